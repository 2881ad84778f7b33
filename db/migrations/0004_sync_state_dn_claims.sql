ALTER TABLE `sync_state` ADD `dn_key` text;--> statement-breakpoint
ALTER TABLE `sync_state` ADD `waiting_for` text;--> statement-breakpoint
CREATE INDEX `sync_state_dn_key` ON `sync_state` (`target`,`dn_key`);--> statement-breakpoint
CREATE INDEX `sync_state_waiting_for` ON `sync_state` (`waiting_for`);