/**
 * Listens for the notifications the outbox's trigger sends when a transaction adding change rows
 * commits (db/migrations-pg/0003_changes_notify.sql), on a connection of its own: LISTEN belongs to
 * a session (https://www.postgresql.org/docs/15/sql-listen.html). A lost connection is opened
 * again after `retryMs`, for as long as someone listens; notifications sent meanwhile are missed,
 * which the worker's poll covers.
 */
import pg from "pg";

export const CHANGES_CHANNEL = "scimbridge_changes";

export function listenForChanges(connection: pg.ClientConfig, onChange: () => void, retryMs = 1000): () => void {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  const reconnect = () => {
    client = undefined;
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), retryMs);
    timer.unref();
  };
  const connect = async () => {
    const c = new pg.Client({ ...connection, keepAlive: true, application_name: "scimbridge changes" });
    let gone = false;
    const lost = () => {
      if (gone) return;
      gone = true;
      c.end().catch(() => undefined);
      if (client === c) reconnect();
    };
    c.on("error", lost);
    c.on("end", lost);
    c.on("notification", (n) => {
      if (n.channel === CHANGES_CHANNEL) onChange();
    });
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
      if (stopped) await c.end();
      // Rows committed while no one listened are found now rather than at the next poll.
      else onChange();
    } catch {
      lost();
    }
  };
  void connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    void client?.end().catch(() => undefined);
  };
}
