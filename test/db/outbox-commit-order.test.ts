/**
 * The outbox when transactions commit out of seq order, on a real PostgreSQL: seq values are taken
 * at insert and transactions commit in any order, so a change with a lower seq can become visible
 * after the fan-out took a higher one. A fan-out that kept a position (everything up to seq N is
 * done) would skip it for ever; the fan-out marks each row it took, and the late row is taken by
 * the next run (replicas-design.md 4.3). Also: two fan-outs at once take different rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresEngine } from "../../db/pg/open.js";
import { usePostgres } from "../harness/postgres.js";

const pg = usePostgres();
let store: PostgresEngine;
beforeAll(async () => {
  store = await openPostgresStore({ url: pg.url });
}, 60_000);
afterAll(async () => {
  await store.close();
});

const at = "2026-12-06T10:00:00.000Z";
const change = (id: string) => ({ kind: "User" as const, id, op: "create" as const, version: 1, at });
/** One fan-out as hooks/delivery/fan-out.ts runs it: take the unfanned rows, mark exactly those. */
const fanOut = () =>
  store.transaction(async ({ sync }) => {
    const batch = await sync.unfanned(100);
    await sync.markFanned(batch.seqs);
    return batch.rows.map((r) => r.id);
  });

describe("the outbox on PostgreSQL", () => {
  it("a change whose transaction commits after a later change was fanned out is still fanned out", async () => {
    let commitLate!: () => void;
    const lateMayCommit = new Promise<void>((r) => (commitLate = r));
    let inserted!: () => void;
    const lateInserted = new Promise<void>((r) => (inserted = r));
    // The late transaction takes its seq first, then stays open.
    const late = store.transaction(async ({ resources }) => {
      await resources.recordChange(change("late"));
      inserted();
      await lateMayCommit;
    });
    await lateInserted;
    await store.transaction(({ resources }) => resources.recordChange(change("early")));
    expect(await fanOut()).toEqual(["early"]);
    commitLate();
    await late;
    // The late row has the lower seq, and is taken now.
    const [lateRow] = (await store.pool.query<{ seq: string }>("SELECT seq FROM changes WHERE resource_id = 'late'")).rows;
    const [earlyRow] = (await store.pool.query<{ seq: string }>("SELECT seq FROM changes WHERE resource_id = 'early'")).rows;
    expect(Number(lateRow!.seq)).toBeLessThan(Number(earlyRow!.seq));
    expect(await fanOut()).toEqual(["late"]);
    expect(await fanOut()).toEqual([]);
  });

  it("two fan-outs at once take different rows, and together all of them", async () => {
    await store.transaction(async ({ resources }) => {
      for (let i = 0; i < 20; i++) await resources.recordChange(change(`c${i}`));
    });
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    let took!: (ids: string[]) => void;
    const firstTook = new Promise<string[]>((r) => (took = r));
    // The first fan-out takes (and locks) its rows, then waits before committing.
    const first = store.transaction(async ({ sync }) => {
      const batch = await sync.unfanned(8);
      took(batch.rows.map((r) => r.id));
      await hold;
      await sync.markFanned(batch.seqs);
    });
    const a = await firstTook;
    const b = await fanOut(); // skips the locked rows instead of waiting for them
    release();
    await first;
    expect(a).toHaveLength(8);
    expect(b).toHaveLength(12);
    expect(new Set([...a, ...b]).size).toBe(20);
    expect(await store.sync.hasUnfanned()).toBe(false);
  });
});
