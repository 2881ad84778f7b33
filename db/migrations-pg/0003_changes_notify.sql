-- Every statement that adds outbox rows notifies the channel scimbridge_changes when its
-- transaction commits (NOTIFY is delivered at commit and folded into one per transaction,
-- https://www.postgresql.org/docs/15/sql-notify.html), so the replica that delivers wakes at once
-- for a change written through another replica instead of at its next poll.
CREATE FUNCTION scimbridge_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('scimbridge_changes', '');
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER changes_notify AFTER INSERT ON "changes" FOR EACH STATEMENT EXECUTE FUNCTION scimbridge_changes_notify();
