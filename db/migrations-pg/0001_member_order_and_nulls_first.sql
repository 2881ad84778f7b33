DROP INDEX "groups_display_name_key";--> statement-breakpoint
DROP INDEX "groups_external_id";--> statement-breakpoint
DROP INDEX "groups_last_modified";--> statement-breakpoint
DROP INDEX "groups_created";--> statement-breakpoint
DROP INDEX "users_user_name_key";--> statement-breakpoint
DROP INDEX "users_external_id";--> statement-breakpoint
DROP INDEX "users_last_modified";--> statement-breakpoint
DROP INDEX "users_display_name_key";--> statement-breakpoint
DROP INDEX "users_created";--> statement-breakpoint
ALTER TABLE "group_members" ADD COLUMN "position" bigint NOT NULL GENERATED ALWAYS AS IDENTITY (sequence name "group_members_position_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1);--> statement-breakpoint
CREATE UNIQUE INDEX "groups_display_name_key" ON "groups" USING btree ("display_name_key" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "groups_external_id" ON "groups" USING btree ("external_id" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "groups_last_modified" ON "groups" USING btree ("last_modified" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "groups_created" ON "groups" USING btree ("created" NULLS FIRST);--> statement-breakpoint
CREATE UNIQUE INDEX "users_user_name_key" ON "users" USING btree ("user_name_key" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "users_external_id" ON "users" USING btree ("external_id" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "users_last_modified" ON "users" USING btree ("last_modified" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "users_display_name_key" ON "users" USING btree ("display_name_key" NULLS FIRST);--> statement-breakpoint
CREATE INDEX "users_created" ON "users" USING btree ("created" NULLS FIRST);