/**
 * Fencing of delivery outcomes by the lease token, on both engines: a worker whose lease ran out
 * while it delivered (a long pause, a partition), and whose row another worker claimed meanwhile,
 * records nothing, whether its outcome comes after the new holder's or before it; the new holder's
 * outcome stands. The outcomes go through the real recorder and group commit on a real store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCommit } from "../../db/group-commit.js";
import { openStore } from "../../db/open.js";
import { openPostgresStore } from "../../db/pg/open.js";
import type { Store } from "../../db/store.js";
import type { Lease, SyncStateRow } from "../../db/sync.js";
import { LdapDeliveryError } from "../../hooks/ldap/executor.js";
import { OutcomeRecorder } from "../../hooks/delivery/recorder.js";
import { RuleSet } from "../../hooks/delivery/rule-set.js";
import { usePostgres } from "../harness/postgres.js";

const pg = usePostgres();
const dir = mkdtempSync(join(tmpdir(), "scimbridge-fencing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T = (s: number) => new Date(Date.parse("2026-12-06T10:00:00.000Z") + s * 1000).toISOString();
let files = 0;

const engines = [
  ["SQLite", async (): Promise<Store> => openStore(join(dir, `fencing-${++files}.db`))],
  ["PostgreSQL", async (): Promise<Store> => openPostgresStore({ url: await pg.server.createDatabase(), pool: { max: 4 } })],
] as const;

describe.each(engines)("outcome fencing on %s", (_name, open) => {
  let store: Store;
  let recorder: OutcomeRecorder;
  beforeEach(async () => {
    store = await open();
    recorder = new OutcomeRecorder({
      rules: new RuleSet({ users: [] }),
      commit: new GroupCommit(store),
      now: () => new Date(T(10)),
      maxAttempts: 5,
      retry: { initialMs: 500, maxMs: 60_000 },
    });
    await store.transaction((tx) => tx.sync.markPending("User", "u1", "people", "ldap", 1, T(0)));
  });
  afterEach(() => store.close());

  const claim = async (now: number, lease: Lease): Promise<SyncStateRow> => {
    const rows = await store.transaction((tx) => tx.sync.claim(T(now), ["people"], 10, lease));
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };
  const stale = () => claim(0, { owner: "w1", until: T(5), token: 101 });
  const taken = () => claim(6, { owner: "w2", until: T(66), token: 202 });
  const added = { kind: "finished", state: "in_sync", dn: "uid=u1,ou=people,dc=example,dc=com", directoryId: "guid-new", written: { uid: ["u1"] }, at: T(7) } as const;
  const failed = { kind: "failed", error: new LdapDeliveryError("no such object", { transient: false, code: 32, opIndex: 0 }), at: T(1) } as const;

  it("a stale holder's outcome after the new holder's changes nothing", async () => {
    const mine = await stale();
    const theirs = await taken(); // w1's lease ran out at T(5); w2 claims at T(6)
    expect(await recorder.record(theirs, added)).toEqual({ due: false, fenced: false });
    const recorded = await store.sync.get("User", "u1", "people");
    expect(recorded).toMatchObject({ state: "in_sync", dn: added.dn, directoryId: "guid-new", leaseOwner: null, leaseToken: null });
    expect(await recorder.record(mine, failed)).toEqual({ due: false, fenced: true });
    expect(await store.sync.get("User", "u1", "people")).toEqual(recorded);
  });

  it("a stale holder's outcome before the new holder's changes nothing, and the new holder's is recorded", async () => {
    const mine = await stale();
    const theirs = await taken();
    const leased = await store.sync.get("User", "u1", "people");
    expect(await recorder.record(mine, failed)).toEqual({ due: false, fenced: true });
    expect(await store.sync.get("User", "u1", "people")).toEqual(leased);
    expect(await recorder.record(theirs, added)).toEqual({ due: false, fenced: false });
    expect(await store.sync.get("User", "u1", "people")).toMatchObject({ state: "in_sync", directoryId: "guid-new", attempts: 0, lastCode: null });
  });

  it("the holder whose lease is still its own records, and the row is free to claim again", async () => {
    const mine = await stale();
    await store.transaction((tx) => tx.sync.markPending("User", "u1", "people", "ldap", 2, T(1))); // a newer change meanwhile
    expect(await recorder.record(mine, failed)).toEqual({ due: true, fenced: false });
    expect(await store.sync.get("User", "u1", "people")).toMatchObject({ state: "pending", wantedSeq: 2, leaseOwner: null, leaseUntil: null, leaseToken: null });
    expect((await store.transaction((tx) => tx.sync.claim(T(2), ["people"], 10, { owner: "w2", until: T(62), token: 303 }))).map((r) => r.leaseToken)).toEqual([303]);
  });
});
