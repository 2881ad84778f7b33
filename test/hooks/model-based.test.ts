/**
 * Model-based test of the whole chain against a real slapd: random sequences of SCIM operations
 * (create, PUT, PATCH active, password, rename including case-only renames, group add/remove,
 * delete, re-create under a deleted user's userName), some sent concurrently, then, once delivery
 * has converged, the directory itself is checked against SCIM:
 * - every SCIM user has exactly its own entry (the entryUUID its sync row records), and nothing
 *   else is under the rule's base;
 * - a bind with the last password SCIM accepted succeeds exactly when the user is active;
 * - every SCIM group's entry holds exactly its members' DNs, and no other group entry exists;
 * - no delivery is left pending, retrying, failed or needing a password.
 *
 * `npm test` runs a fixed number of sequences; `npm run test:model` runs many more
 * (MODEL_RUNS, MODEL_SEED). fast-check prints the seed and the shrunk sequence of any failure;
 * MODEL_SEED=<seed> MODEL_PATH=<path> replays it.
 */
import fc from "fast-check";
import { Attribute } from "ldapts";
import { describe, expect, it } from "vitest";
import { GROUP_SCHEMA, PATCH_OP, USER_SCHEMA } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { canBind, useSlapd } from "../harness/slapd.js";
import { normalizeDn } from "../../hooks/ldap/dn.js";

const ldap = useSlapd();
const SUFFIX = "dc=example,dc=com";
const RUNS = Number(process.env.MODEL_RUNS ?? 20);
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);
const PATH = process.env.MODEL_PATH;

/** userNames differ in case only across a pair, so case-only renames and re-creates happen often. */
const NAMES = ["ann", "Ann", "bob", "Bob", "cy"] as const;
const GROUP_NAMES = ["red", "RED", "blue"] as const;
const PASSWORDS = ["Pw-one-1!", "Pw-two-2!", "Pw-three-3!"] as const;

type Op =
  | { kind: "create"; name: number; password?: number; active: boolean }
  | { kind: "put"; user: number; active: boolean; password?: number }
  | { kind: "active"; user: number; active: boolean }
  | { kind: "password"; user: number; password: number }
  | { kind: "rename"; user: number; name: number }
  | { kind: "delete"; user: number }
  | { kind: "groupCreate"; name: number; members: number[] }
  | { kind: "groupAdd"; group: number; user: number }
  | { kind: "groupRemove"; group: number; user: number }
  | { kind: "groupRename"; group: number; name: number }
  | { kind: "groupDelete"; group: number };

/** One step: an operation, or two sent at once (on different resources, or two creates). */
type Step = Op[];

const idx = (n: number) => fc.nat({ max: n - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("create" as const), name: idx(NAMES.length), password: fc.option(idx(PASSWORDS.length), { nil: undefined }), active: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("put" as const), user: fc.nat(), active: fc.boolean(), password: fc.option(idx(PASSWORDS.length), { nil: undefined }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("active" as const), user: fc.nat(), active: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("password" as const), user: fc.nat(), password: idx(PASSWORDS.length) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("rename" as const), user: fc.nat(), name: idx(NAMES.length) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), user: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("groupCreate" as const), name: idx(GROUP_NAMES.length), members: fc.array(fc.nat(), { maxLength: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("groupAdd" as const), group: fc.nat(), user: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("groupRemove" as const), group: fc.nat(), user: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("groupRename" as const), group: fc.nat(), name: idx(GROUP_NAMES.length) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("groupDelete" as const), group: fc.nat() }) },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof({ weight: 4, arbitrary: opArb.map((o) => [o]) }, { weight: 1, arbitrary: fc.tuple(opArb, opArb) });

/** What SCIM acknowledged: users and groups by id, and the last password accepted per user. */
interface Model {
  users: Map<string, { userName: string; active: boolean; password?: string }>;
  groups: Map<string, { displayName: string; members: Set<string> }>;
  /** Ids in creation order (deleted ones too: an operation on a deleted id must answer 404). */
  userIds: string[];
  groupIds: string[];
}

let runNo = 0;

class Run {
  readonly people: string;
  readonly groupsOu: string;
  readonly model: Model = { users: new Map(), groups: new Map(), userIds: [], groupIds: [] };
  /** Every response's status, to fail on any 5xx. */
  readonly statuses: { op: string; status: number }[] = [];

  constructor(
    readonly p: Provisioned,
    n: number,
  ) {
    this.people = `ou=people${n},${SUFFIX}`;
    this.groupsOu = `ou=groups${n},${SUFFIX}`;
  }

  /** A resource by index: a live one, or one in ten times any id ever created (a deleted one answers 404). */
  private pick(list: string[], i: number, live: Map<string, unknown>): string | undefined {
    const alive = list.filter((id) => live.has(id));
    const from = i % 10 === 9 || !alive.length ? list : alive;
    return from.length ? from[Math.floor(i / 10) % from.length] : undefined;
  }

  private user(i: number): string | undefined {
    return this.pick(this.model.userIds, i, this.model.users);
  }

  private group(i: number): string | undefined {
    return this.pick(this.model.groupIds, i, this.model.groups);
  }

  private note(op: string, status: number): number {
    this.statuses.push({ op, status });
    return status;
  }

  private patch(kind: string, id: string, ops: unknown[]) {
    return this.p.http.patch(`/scim/v2/${kind}/${id}`).set(this.p.auth).send({ schemas: [PATCH_OP], Operations: ops });
  }

  async run(op: Op): Promise<void> {
    const m = this.model;
    switch (op.kind) {
      case "create": {
        const password = op.password === undefined ? undefined : PASSWORDS[op.password];
        const userName = NAMES[op.name]!;
        const res = await this.p.http
          .post("/scim/v2/Users")
          .set(this.p.auth)
          .send({ schemas: [USER_SCHEMA], userName, active: op.active, ...(password ? { password } : {}) });
        if (this.note("create", res.status) === 201) {
          m.users.set(res.body.id, { userName, active: op.active, ...(password ? { password } : {}) });
          m.userIds.push(res.body.id);
        }
        return;
      }
      case "put": {
        const id = this.user(op.user);
        const u = id && m.users.get(id);
        if (!id || !u) return;
        const password = op.password === undefined ? undefined : PASSWORDS[op.password];
        const res = await this.p.http
          .put(`/scim/v2/Users/${id}`)
          .set(this.p.auth)
          .send({ schemas: [USER_SCHEMA], userName: u.userName, active: op.active, ...(password ? { password } : {}) });
        if (this.note("put", res.status) === 200) Object.assign(u, { active: op.active }, password ? { password } : {});
        return;
      }
      case "active":
      case "password": {
        const id = this.user(op.user);
        if (!id) return;
        const res = await this.patch("Users", id, [op.kind === "active" ? { op: "replace", path: "active", value: op.active } : { op: "replace", path: "password", value: PASSWORDS[op.password] }]);
        const u = m.users.get(id);
        if (this.note(op.kind, res.status) === 200 && u) {
          if (op.kind === "active") u.active = op.active;
          else u.password = PASSWORDS[op.password];
        }
        return;
      }
      case "rename": {
        const id = this.user(op.user);
        if (!id) return;
        const res = await this.patch("Users", id, [{ op: "replace", path: "userName", value: NAMES[op.name] }]);
        const u = m.users.get(id);
        if (this.note("rename", res.status) === 200 && u) u.userName = NAMES[op.name]!;
        return;
      }
      case "delete": {
        const id = this.user(op.user);
        if (!id) return;
        const res = await this.p.http.delete(`/scim/v2/Users/${id}`).set(this.p.auth);
        if (this.note("delete", res.status) === 204) {
          m.users.delete(id);
          for (const g of m.groups.values()) g.members.delete(id);
        }
        return;
      }
      case "groupCreate": {
        const members = [...new Set(op.members.map((i) => this.user(i)).filter((x): x is string => x !== undefined && m.users.has(x)))];
        const displayName = GROUP_NAMES[op.name]!;
        const res = await this.p.http
          .post("/scim/v2/Groups")
          .set(this.p.auth)
          .send({ schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) });
        if (this.note("groupCreate", res.status) === 201) {
          m.groups.set(res.body.id, { displayName, members: new Set(members) });
          m.groupIds.push(res.body.id);
        }
        return;
      }
      case "groupAdd":
      case "groupRemove": {
        const gid = this.group(op.group);
        const uid = this.user(op.user);
        if (!gid || !uid) return;
        const change = op.kind === "groupAdd" ? { op: "add", path: "members", value: [{ value: uid }] } : { op: "remove", path: `members[value eq "${uid}"]` };
        const res = await this.patch("Groups", gid, [change]);
        const g = m.groups.get(gid);
        if (this.note(op.kind, res.status) < 300 && g) {
          if (op.kind === "groupAdd") g.members.add(uid);
          else g.members.delete(uid);
        }
        return;
      }
      case "groupRename": {
        const gid = this.group(op.group);
        if (!gid) return;
        const res = await this.patch("Groups", gid, [{ op: "replace", path: "displayName", value: GROUP_NAMES[op.name] }]);
        const g = m.groups.get(gid);
        if (this.note("groupRename", res.status) < 300 && g) g.displayName = GROUP_NAMES[op.name]!;
        return;
      }
      case "groupDelete": {
        const gid = this.group(op.group);
        if (!gid) return;
        const res = await this.p.http.delete(`/scim/v2/Groups/${gid}`).set(this.p.auth);
        if (this.note("groupDelete", res.status) === 204) m.groups.delete(gid);
        return;
      }
    }
  }

  /** Two operations at once: only on different resources (or two creates), so the model stays exact. */
  async step(ops: Step): Promise<void> {
    if (ops.length === 1 || this.overlap(ops[0]!, ops[1]!)) {
      for (const op of ops) await this.run(op);
      return;
    }
    await Promise.all(ops.map((op) => this.run(op)));
  }

  private overlap(a: Op, b: Op): boolean {
    const touched = (op: Op): string[] => {
      const u = "user" in op ? this.user(op.user) : undefined;
      const g = "group" in op ? this.group(op.group) : undefined;
      const ids = [u, g].filter((x): x is string => x !== undefined);
      // Names are shared by all creates and renames (uniqueness decides who wins), except that
      // two creates may race: exactly one of them gets 201.
      return op.kind === "create" || op.kind === "groupCreate" || op.kind === "rename" || op.kind === "groupRename" ? ["names", ...ids] : ids;
    };
    const [x, y] = [touched(a), touched(b)];
    if (a.kind === "create" && b.kind === "create") return false;
    return x.some((k) => y.includes(k));
  }

  async check(): Promise<void> {
    const { p, model } = this;
    expect(this.statuses.filter((s) => s.status >= 500)).toEqual([]);
    await p.settle(20_000);
    const rows = p.store.sqlite.prepare("SELECT resource_type AS type, resource_id AS id, state, directory_id AS directoryId, last_error AS error FROM sync_state").all() as {
      type: string;
      id: string;
      state: string;
      directoryId: string | null;
      error: string | null;
    }[];
    expect(rows.filter((r) => r.state !== "in_sync")).toEqual([]);

    const userDn = (userName: string) => `uid=${userName},${this.people}`;
    const people = (await ldap.admin.search(this.people, { scope: "one", attributes: ["uid", "entryUUID"] })).searchEntries;
    const key = (dn: string) => normalizeDn(dn);
    const byDn = new Map(people.map((e) => [key(e.dn), e]));
    for (const [id, u] of model.users) {
      const entry = byDn.get(key(userDn(u.userName)));
      expect(entry, `entry of user ${u.userName} (${id})`).toBeDefined();
      expect(entry!.entryUUID, `entry of ${u.userName} is its own`).toBe(rows.find((r) => r.type === "User" && r.id === id)?.directoryId);
      // Spelled as SCIM spells it, case included (a case-only rename is a modifyDN too).
      expect(entry!.uid, `uid of ${u.userName}`).toBe(u.userName);
      if (u.password !== undefined) {
        expect(await canBind(ldap.slapd.url, entry!.dn, u.password), `bind as ${u.userName} (active ${u.active})`).toBe(u.active);
      }
    }
    const expectedDns = [...model.users.values()].map((u) => key(userDn(u.userName))).sort();
    expect([...byDn.keys()].sort()).toEqual(expectedDns);

    const groupEntries = (await ldap.admin.search(this.groupsOu, { scope: "one", attributes: ["cn", "member"] })).searchEntries;
    expect(groupEntries.map((e) => e.cn).sort(), "group names as SCIM spells them").toEqual([...model.groups.values()].map((g) => g.displayName).sort());
    const underPeople = key(this.people);
    const groupsByDn = new Map(groupEntries.map((e) => [key(e.dn), e]));
    for (const g of model.groups.values()) {
      const entry = groupsByDn.get(key(`cn=${g.displayName},${this.groupsOu}`));
      expect(entry, `entry of group ${g.displayName}`).toBeDefined();
      const values = ([] as string[]).concat((entry!.member as string | string[] | undefined) ?? []);
      const members = values.map(key).filter((dn) => dn.endsWith(`,${underPeople}`));
      const want = [...g.members].map((id) => key(userDn(model.users.get(id)!.userName)));
      expect(members.sort().join(" | "), `members of group ${g.displayName}`).toEqual(want.sort().join(" | "));
    }
    expect([...groupsByDn.keys()].sort()).toEqual([...model.groups.values()].map((g) => key(`cn=${g.displayName},${this.groupsOu}`)).sort());
  }
}

async function addOu(dn: string, ou: string): Promise<void> {
  await ldap.admin.add(dn, [new Attribute({ type: "objectClass", values: ["organizationalUnit"] }), new Attribute({ type: "ou", values: [ou] })]);
}

describe("model-based: random SCIM sequences converge to a directory that matches SCIM", () => {
  it(
    `${RUNS} sequences`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 8, maxLength: 40 }), async (steps) => {
          const n = ++runNo;
          const people = `ou=people${n},${SUFFIX}`;
          const groups = `ou=groups${n},${SUFFIX}`;
          await addOu(people, `people${n}`);
          await addOu(groups, `groups${n}`);
          const p = await provisioned(ldap, {
            userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${people}` }],
            groupRules: [{ name: "groups", target: "slapd", dn: `cn={displayName},${groups}` }],
          });
          try {
            const run = new Run(p, n);
            for (const step of steps) await run.step(step);
            try {
              await run.check();
            } catch (e) {
              // What the server recorded, to read beside fast-check's counterexample.
              console.error(JSON.stringify({ statuses: run.statuses, syncState: p.store.sqlite.prepare("SELECT resource_type, resource_id, rule, state, dn, last_error FROM sync_state").all(), members: p.store.sqlite.prepare("SELECT * FROM group_member_sync").all(), ids: { users: run.model.userIds, groups: run.model.groupIds } }));
              await p.assembled.app.audit.flush();
              console.error(JSON.stringify(p.store.sqlite.prepare("SELECT kind, operation, resource_id, dn, outcome, detail FROM audit_log ORDER BY seq").all()));
              throw e;
            }
          } finally {
            await p.close();
          }
        }),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }), endOnFailure: process.env.MODEL_SHRINK === undefined },
      );
    },
    RUNS * 30_000,
  );
});
