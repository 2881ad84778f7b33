CREATE TABLE `entry_tombstones` (
	`rule` text NOT NULL,
	`target` text NOT NULL,
	`dn_key` text NOT NULL,
	`dn` text NOT NULL,
	`directory_id` text NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`at` text NOT NULL,
	PRIMARY KEY(`rule`, `target`, `dn_key`, `directory_id`)
);
--> statement-breakpoint
CREATE INDEX `entry_tombstones_dn_key` ON `entry_tombstones` (`target`,`dn_key`);