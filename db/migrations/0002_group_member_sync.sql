CREATE TABLE `group_member_sync` (
	`rule` text NOT NULL,
	`group_id` text NOT NULL,
	`member_id` text NOT NULL,
	`dn` text,
	`dirty` integer DEFAULT 0 NOT NULL,
	`evict` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`rule`, `group_id`, `member_id`)
);
--> statement-breakpoint
CREATE INDEX `group_member_sync_dirty` ON `group_member_sync` (`rule`,`group_id`,`dirty`);--> statement-breakpoint
CREATE INDEX `group_member_sync_member` ON `group_member_sync` (`member_id`);