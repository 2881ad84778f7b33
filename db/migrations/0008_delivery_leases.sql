ALTER TABLE `sync_state` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `sync_state` ADD `lease_until` text;--> statement-breakpoint
ALTER TABLE `sync_state` ADD `lease_token` integer;--> statement-breakpoint
CREATE INDEX `sync_state_lease_owner` ON `sync_state` (`lease_owner`) WHERE "sync_state"."lease_owner" IS NOT NULL;