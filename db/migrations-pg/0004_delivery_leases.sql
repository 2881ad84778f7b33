ALTER TABLE "sync_state" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "lease_until" text;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "lease_token" bigint;--> statement-breakpoint
CREATE INDEX "sync_state_lease_owner" ON "sync_state" USING btree ("lease_owner") WHERE "sync_state"."lease_owner" IS NOT NULL;