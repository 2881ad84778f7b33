CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` text NOT NULL,
	`kind` text NOT NULL,
	`client` text,
	`operation` text NOT NULL,
	`resource_type` text,
	`resource_id` text,
	`target` text,
	`dn` text,
	`outcome` text NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_at` ON `audit_log` (`at`);--> statement-breakpoint
CREATE INDEX `audit_log_kind_seq` ON `audit_log` (`kind`,`seq`);