/**
 * Work one process at a time may do (Store.singleton: a periodic reconcile, audit pruning) on a
 * real PostgreSQL, between two stores standing for two replicas: one holds the claim, the other is
 * refused; when the holder's connection ends (its backend terminated, as a crash or a partition
 * would end it) the holder learns it lost the claim, and the claim is free again. SQLite grants
 * the claim at once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { openPostgresStore } from "../../db/pg/open.js";
import type { Store } from "../../db/store.js";
import { usePostgres } from "../harness/postgres.js";

const pg = usePostgres();
const stores: Store[] = [];
beforeAll(async () => {
  stores.push(await openPostgresStore({ url: pg.url }), await openPostgresStore({ url: pg.url }));
}, 60_000);
afterAll(async () => {
  for (const s of stores) await s.close();
});

/** Ends the sessions holding the claim `name`, as the server does when their client dies. */
async function terminateHolder(name: string): Promise<number> {
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  try {
    const r = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [`scimbridge ${name}`]);
    return r.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

const until = async (cond: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("Store.singleton on PostgreSQL", () => {
  it("one store holds a claim, the other is refused until it is released", async () => {
    const [a, b] = stores as [Store, Store];
    const held = await a.singleton("claim-release");
    expect(held).toBeDefined();
    expect(await b.singleton("claim-release")).toBeUndefined();
    // Another name is another claim.
    const other = await b.singleton("claim-other");
    expect(other).toBeDefined();
    await held!.release();
    await held!.lost;
    const taken = await b.singleton("claim-release");
    expect(taken).toBeDefined();
    await taken!.release();
    await other!.release();
  });

  it("a holder whose connection ends learns it lost the claim, and the claim is free again", async () => {
    const [a, b] = stores as [Store, Store];
    const held = (await a.singleton("claim-crash"))!;
    let lost = false;
    void held.lost.then(() => (lost = true));
    expect(await terminateHolder("claim-crash")).toBe(1);
    await until(() => lost);
    const taken = await b.singleton("claim-crash");
    expect(taken).toBeDefined();
    await taken!.release();
  });
});

describe("Store.singleton on SQLite", () => {
  it("is granted at once (one serving process per file), and released on request", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scimbridge-singleton-"));
    const store = openStore(join(dir, "scim.db"));
    try {
      const claim = (await store.singleton("reconcile"))!;
      let lost = false;
      void claim.lost.then(() => (lost = true));
      await claim.release();
      await claim.lost;
      expect(lost).toBe(true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
