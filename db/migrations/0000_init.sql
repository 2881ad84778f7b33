CREATE TABLE `changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`op` text NOT NULL,
	`version` integer NOT NULL,
	`at` text NOT NULL,
	`client` text,
	`before` text,
	`after` text,
	`members_added` text,
	`members_removed` text
);
--> statement-breakpoint
CREATE INDEX `changes_resource` ON `changes` (`resource_type`,`resource_id`,`seq`);--> statement-breakpoint
CREATE TABLE `group_members` (
	`group_id` text NOT NULL,
	`member_id` text NOT NULL,
	`member_type` text NOT NULL,
	PRIMARY KEY(`group_id`, `member_id`),
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `group_members_member` ON `group_members` (`member_id`);--> statement-breakpoint
CREATE TABLE `groups` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`display_name` text NOT NULL,
	`display_name_key` text NOT NULL,
	`external_id` text,
	`data` text NOT NULL,
	`created` text NOT NULL,
	`last_modified` text NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `groups_id` ON `groups` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `groups_display_name_key` ON `groups` (`display_name_key`);--> statement-breakpoint
CREATE INDEX `groups_external_id` ON `groups` (`external_id`);--> statement-breakpoint
CREATE INDEX `groups_last_modified` ON `groups` (`last_modified`);--> statement-breakpoint
CREATE TABLE `known_rules` (
	`name` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`target` text NOT NULL,
	`config` text NOT NULL,
	`last_seen` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `pending_secrets` (
	`user_id` text PRIMARY KEY NOT NULL,
	`sealed` text NOT NULL,
	`at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sync_state` (
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`rule` text NOT NULL,
	`target` text NOT NULL,
	`state` text NOT NULL,
	`wanted_seq` integer NOT NULL,
	`delivered_seq` integer DEFAULT 0 NOT NULL,
	`dn` text,
	`directory_id` text,
	`written` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_attempt` text,
	`next_attempt` text,
	`last_code` integer,
	`last_error` text,
	`secret` text,
	`updated` text NOT NULL,
	PRIMARY KEY(`resource_type`, `resource_id`, `rule`)
);
--> statement-breakpoint
CREATE INDEX `sync_state_pending` ON `sync_state` (`state`,`wanted_seq`);--> statement-breakpoint
CREATE INDEX `sync_state_due` ON `sync_state` (`state`,`next_attempt`);--> statement-breakpoint
CREATE INDEX `sync_state_rule` ON `sync_state` (`rule`);--> statement-breakpoint
CREATE TABLE `tokens` (
	`name` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`hint` text NOT NULL,
	`created` text NOT NULL,
	`last_used` text
);
--> statement-breakpoint
CREATE TABLE `user_emails` (
	`user_id` text NOT NULL,
	`position` integer NOT NULL,
	`value` text,
	`value_key` text,
	`type` text,
	`primary` integer,
	PRIMARY KEY(`user_id`, `position`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `user_emails_value_key` ON `user_emails` (`value_key`);--> statement-breakpoint
CREATE TABLE `users` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`user_name` text NOT NULL,
	`user_name_key` text NOT NULL,
	`external_id` text,
	`display_name_key` text,
	`active` integer,
	`data` text NOT NULL,
	`created` text NOT NULL,
	`last_modified` text NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_id` ON `users` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_user_name_key` ON `users` (`user_name_key`);--> statement-breakpoint
CREATE INDEX `users_external_id` ON `users` (`external_id`);--> statement-breakpoint
CREATE INDEX `users_active` ON `users` (`active`);--> statement-breakpoint
CREATE INDEX `users_last_modified` ON `users` (`last_modified`);--> statement-breakpoint
CREATE TABLE `worker_cursor` (
	`name` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL
);
