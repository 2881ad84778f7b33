ALTER TABLE `changes` ADD `fanned_out` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Changes up to the old fan-out cursor were fanned out already; the rest are not.
UPDATE `changes` SET `fanned_out` = 1 WHERE `seq` <= coalesce((SELECT `seq` FROM `worker_cursor` WHERE `name` = 'outbox'), 0);--> statement-breakpoint
DROP TABLE `worker_cursor`;--> statement-breakpoint
CREATE INDEX `changes_unfanned` ON `changes` (`seq`) WHERE "changes"."fanned_out" = 0;
