CREATE TABLE "audit_log" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"at" text NOT NULL,
	"kind" text NOT NULL,
	"client" text,
	"operation" text NOT NULL,
	"resource_type" text,
	"resource_id" text,
	"target" text,
	"dn" text,
	"outcome" text NOT NULL,
	"detail" text
);
--> statement-breakpoint
CREATE TABLE "changes" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "changes_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"resource_type" text NOT NULL,
	"resource_id" text NOT NULL,
	"op" text NOT NULL,
	"version" integer NOT NULL,
	"at" text NOT NULL,
	"client" text,
	"before" text,
	"after" text,
	"members_added" text,
	"members_removed" text
);
--> statement-breakpoint
CREATE TABLE "entry_tombstones" (
	"rule" text NOT NULL,
	"target" text NOT NULL,
	"dn_key" text NOT NULL,
	"dn" text NOT NULL,
	"directory_id" text NOT NULL,
	"resource_type" text NOT NULL,
	"resource_id" text NOT NULL,
	"at" text NOT NULL,
	CONSTRAINT "entry_tombstones_rule_target_dn_key_directory_id_pk" PRIMARY KEY("rule","target","dn_key","directory_id")
);
--> statement-breakpoint
CREATE TABLE "group_member_sync" (
	"rule" text NOT NULL,
	"group_id" text NOT NULL,
	"member_id" text NOT NULL,
	"dn" text,
	"dirty" bigint DEFAULT 0 NOT NULL,
	"evict" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "group_member_sync_rule_group_id_member_id_pk" PRIMARY KEY("rule","group_id","member_id")
);
--> statement-breakpoint
CREATE TABLE "group_members" (
	"group_id" text NOT NULL,
	"member_id" text NOT NULL,
	"member_type" text NOT NULL,
	"display" text,
	CONSTRAINT "group_members_group_id_member_id_pk" PRIMARY KEY("group_id","member_id")
);
--> statement-breakpoint
CREATE TABLE "groups" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "groups_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" text NOT NULL,
	"display_name" text NOT NULL,
	"display_name_key" text NOT NULL,
	"external_id" text,
	"data" jsonb NOT NULL,
	"created" text NOT NULL,
	"last_modified" text NOT NULL,
	"version" integer NOT NULL,
	CONSTRAINT "groups_id" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "known_rules" (
	"name" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	"config" text NOT NULL,
	"last_seen" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pending_secrets" (
	"user_id" text PRIMARY KEY NOT NULL,
	"sealed" text NOT NULL,
	"at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_state" (
	"resource_type" text NOT NULL,
	"resource_id" text NOT NULL,
	"rule" text NOT NULL,
	"target" text NOT NULL,
	"state" text NOT NULL,
	"wanted_seq" bigint NOT NULL,
	"delivered_seq" bigint DEFAULT 0 NOT NULL,
	"dn" text,
	"dn_key" text,
	"directory_id" text,
	"written" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_attempt" text,
	"next_attempt" text,
	"last_code" integer,
	"last_error" text,
	"secret" text,
	"waiting_for" text,
	"updated" text NOT NULL,
	CONSTRAINT "sync_state_resource_type_resource_id_rule_pk" PRIMARY KEY("resource_type","resource_id","rule")
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"name" text PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"hint" text NOT NULL,
	"created" text NOT NULL,
	"last_used" text
);
--> statement-breakpoint
CREATE TABLE "user_emails" (
	"user_id" text NOT NULL,
	"position" integer NOT NULL,
	"value" text,
	"value_key" text,
	"type" text,
	"primary" boolean,
	CONSTRAINT "user_emails_user_id_position_pk" PRIMARY KEY("user_id","position")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "users_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" text NOT NULL,
	"user_name" text NOT NULL,
	"user_name_key" text NOT NULL,
	"external_id" text,
	"display_name_key" text,
	"active" boolean,
	"data" jsonb NOT NULL,
	"created" text NOT NULL,
	"last_modified" text NOT NULL,
	"version" integer NOT NULL,
	CONSTRAINT "users_id" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "worker_cursor" (
	"name" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_emails" ADD CONSTRAINT "user_emails_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_at" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_log_kind_seq" ON "audit_log" USING btree ("kind","seq");--> statement-breakpoint
CREATE INDEX "audit_log_resource" ON "audit_log" USING btree ("resource_type","resource_id","seq");--> statement-breakpoint
CREATE INDEX "changes_resource" ON "changes" USING btree ("resource_type","resource_id","seq");--> statement-breakpoint
CREATE INDEX "entry_tombstones_dn_key" ON "entry_tombstones" USING btree ("target","dn_key");--> statement-breakpoint
CREATE INDEX "group_member_sync_dirty" ON "group_member_sync" USING btree ("rule","group_id","dirty");--> statement-breakpoint
CREATE INDEX "group_member_sync_member" ON "group_member_sync" USING btree ("member_id");--> statement-breakpoint
CREATE INDEX "group_members_member" ON "group_members" USING btree ("member_id");--> statement-breakpoint
CREATE UNIQUE INDEX "groups_display_name_key" ON "groups" USING btree ("display_name_key");--> statement-breakpoint
CREATE INDEX "groups_external_id" ON "groups" USING btree ("external_id");--> statement-breakpoint
CREATE INDEX "groups_last_modified" ON "groups" USING btree ("last_modified");--> statement-breakpoint
CREATE INDEX "groups_created" ON "groups" USING btree ("created");--> statement-breakpoint
CREATE INDEX "sync_state_pending" ON "sync_state" USING btree ("state","wanted_seq");--> statement-breakpoint
CREATE INDEX "sync_state_due" ON "sync_state" USING btree ("state","next_attempt");--> statement-breakpoint
CREATE INDEX "sync_state_rule" ON "sync_state" USING btree ("rule");--> statement-breakpoint
CREATE INDEX "sync_state_dn_key" ON "sync_state" USING btree ("target","dn_key");--> statement-breakpoint
CREATE INDEX "sync_state_waiting_for" ON "sync_state" USING btree ("waiting_for");--> statement-breakpoint
CREATE INDEX "user_emails_value_key" ON "user_emails" USING btree ("value_key");--> statement-breakpoint
CREATE UNIQUE INDEX "users_user_name_key" ON "users" USING btree ("user_name_key");--> statement-breakpoint
CREATE INDEX "users_external_id" ON "users" USING btree ("external_id");--> statement-breakpoint
CREATE INDEX "users_active" ON "users" USING btree ("active");--> statement-breakpoint
CREATE INDEX "users_last_modified" ON "users" USING btree ("last_modified");--> statement-breakpoint
CREATE INDEX "users_display_name_key" ON "users" USING btree ("display_name_key");--> statement-breakpoint
CREATE INDEX "users_created" ON "users" USING btree ("created");