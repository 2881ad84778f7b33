ALTER TABLE "changes" ADD COLUMN "fanned_out" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- Changes up to the old fan-out cursor were fanned out already; the rest are not.
UPDATE "changes" SET "fanned_out" = true WHERE "seq" <= coalesce((SELECT "seq" FROM "worker_cursor" WHERE "name" = 'outbox'), 0);--> statement-breakpoint
DROP TABLE "worker_cursor" CASCADE;--> statement-breakpoint
CREATE INDEX "changes_unfanned" ON "changes" USING btree ("seq") WHERE NOT "changes"."fanned_out";
