ALTER TABLE `group_members` ADD `display` text;--> statement-breakpoint
CREATE INDEX `groups_created` ON `groups` (`created`);--> statement-breakpoint
CREATE INDEX `groups_seq` ON `groups` (`seq`);--> statement-breakpoint
CREATE INDEX `users_display_name_key` ON `users` (`display_name_key`);--> statement-breakpoint
CREATE INDEX `users_created` ON `users` (`created`);--> statement-breakpoint
CREATE INDEX `users_seq` ON `users` (`seq`);--> statement-breakpoint
-- members.display for the rows already there, as the member query computed it until now: a user's
-- displayName, else userName; a group's displayName.
UPDATE `group_members` SET `display` = CASE `member_type`
  WHEN 'User' THEN (SELECT coalesce(nullif(json_extract(u.`data`, '$.displayName'), ''), u.`user_name`) FROM `users` u WHERE u.`id` = `group_members`.`member_id`)
  ELSE (SELECT g.`display_name` FROM `groups` g WHERE g.`id` = `group_members`.`member_id`) END;
