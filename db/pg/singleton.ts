/**
 * Work that one replica at a time may do (running the delivery worker, the periodic reconcile,
 * pruning the audit log), claimed with a session-level advisory lock
 * (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS) on a connection of
 * its own. The lock belongs to that session: it is released when the holder releases it, and by
 * the server when the holder's connection ends for any reason (the process killed, the network
 * gone), so another replica can take the work over without anyone cleaning up.
 *
 * The holder must learn when it lost the lock, or two replicas would both do the work: the
 * connection's end or error resolves `lost`, and a heartbeat query every few seconds notices a
 * connection that died silently (TCP keepalive is on as well).
 */
import pg from "pg";
import type { Singleton } from "../store.js";

/** Class key of every scimbridge advisory lock ("SB" in ASCII): the first of the two int4 keys. */
export const LOCK_CLASS = 0x5342;
const HEARTBEAT_MS = 5000;


/** FNV-1a of the name as a signed 32-bit integer: the second int4 key, the same in every replica and version. */
export function singletonKey(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(name, "utf8")) h = Math.imul(h ^ byte, 0x01000193);
  return h | 0;
}

/**
 * Takes the lock named `name` if no other session holds it; undefined when one does. `connection`
 * is the pool's connection settings (a dedicated client is opened, never a pooled one: a pooled
 * session would carry the lock to whatever borrows it next).
 */
export async function trySingleton(connection: pg.ClientConfig, name: string): Promise<Singleton | undefined> {
  const client = new pg.Client({ ...connection, keepAlive: true, application_name: `scimbridge ${name}` });
  let markLost!: () => void;
  const lost = new Promise<void>((resolve) => (markLost = resolve));
  client.on("error", () => markLost());
  client.on("end", () => markLost());
  await client.connect();
  let held = false;
  try {
    const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [LOCK_CLASS, singletonKey(name)]);
    held = r.rows[0]?.ok === true;
  } finally {
    if (!held) await client.end().catch(() => undefined);
  }
  if (!held) return undefined;
  const heartbeat = setInterval(() => {
    client.query("SELECT 1").catch(() => {
      markLost();
      client.end().catch(() => undefined);
    });
  }, HEARTBEAT_MS);
  heartbeat.unref();
  void lost.then(() => clearInterval(heartbeat));
  return {
    lost,
    async release() {
      clearInterval(heartbeat);
      // Ending the session releases every advisory lock it holds.
      await client.end().catch(() => undefined);
      markLost();
    },
  };
}
