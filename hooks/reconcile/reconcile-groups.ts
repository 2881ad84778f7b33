/**
 * Reconciliation of group rules (issue 6, with issue 5's groups): each group rule's expected
 * entries against what its directory holds under the rule's base: missing and extra groups,
 * mapped attributes that differ, and memberships that differ (member values missing from the entry,
 * and values the entry holds that no member explains).
 *
 * Expected members of a group are its SCIM members' DNs in that directory, from the user (or
 * group) rules writing there (sync_state): a member whose own entry is not delivered yet is not
 * expected. A group needing a member (groupOfNames on OpenLDAP) with none expects the placeholder.
 * The directory's member values are read in full, with range retrieval where the server uses it
 * (AD, ranged.ts). Memory: groups are few next to users; one group's two member sets at a time.
 *
 * Repairs go through the delivery path, as for users (hooks/reconcile.ts): a missing group gets
 * its `written` cleared and its whole membership marked dirty; differing attributes get the
 * directory's values put into `written` so the planner replaces them; a missing member's pair is
 * marked unwritten and dirty; an extra value is marked for eviction (a value no pair claims gets
 * a pair of its own, keyed `dn:<value>`, that the group's delivery removes). Then a refresh
 * change brings the group to the worker. Group entries the rule does not expect are split by
 * ownership as for users: the rule's own leftovers go back to the delivery path, unmanaged ones
 * are deleted only when asked (hooks/entry-ownership.ts, hooks/reconcile-repairs.ts).
 */
import type { Store, StoreQueries } from "../../db/store.js";
import type { ResourceKind } from "../../schemas/registry.js";
import type { TargetConfig } from "../rules/config.js";
import type { WrittenGroup } from "../planning/group-planner.js";
import { mapGroup, matchesGroupRule, type DeliverableGroupRule } from "../rules/group-rule.js";
import type { LdapTarget } from "../ldap/connection.js";
import { classifyUnexpected, DIRECTORY_ID_ATTRIBUTES, directoryIdOf, type UnexpectedEntry } from "../delivery/entry-ownership.js";
import { normalizeDn, parseDn } from "../ldap/dn.js";
import { describeLdapError } from "../ldap/errors.js";
import { normalizeEntry } from "../ldap/executor.js";
import { readAllValues } from "../ldap/range.js";
import { ruleBase, type AttributeDrift, type ReconcileProgress, type ReconcileReport } from "./reconcile.js";
import { queueOwnershipRepairs } from "./reconcile-repairs.js";

/** Member values listed per group in a report (the counts are always complete). */
const LISTED_MEMBERS = 50;

export interface MemberDrift {
  id: string;
  dn: string;
  missingCount: number;
  extraCount: number;
  /** Up to LISTED_MEMBERS member DNs expected but absent. */
  missing: string[];
  /** Up to LISTED_MEMBERS member values present but not expected. */
  extra: string[];
}

export interface GroupReconcileReport extends ReconcileReport {
  kind: "Group";
  members: MemberDrift[];
}

export interface GroupReconcileOptions {
  store: Store;
  rules: DeliverableGroupRule[];
  /** Per target, the user and group rules whose entries can be members (where member DNs come from). */
  memberRules: (target: string) => { users: string[]; groups: string[] };
  targets: Map<string, { config: TargetConfig; connection: LdapTarget }>;
  /** db/read-resource.ts */
  readResource: (kind: ResourceKind, id: string, opts?: { members?: boolean }) => Promise<Record<string, unknown> | undefined>;
  dryRun: boolean;
  /** Also delete group entries under the rule's base that the rule did not write (an explicit opt-in). */
  deleteUnmanaged?: boolean;
  onProgress?: (p: ReconcileProgress) => void;
  pageSize?: number;
  now?: () => Date;
}

const lower = (s: string) => s.toLowerCase();

function norm(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return lower(dn);
  }
}

/** Values compared as trimmed sets; the RDN attributes case-insensitively (as the planner does). */
function drift(names: string[], rdn: Set<string>, expected: Record<string, string[]>, actual: Record<string, string[]>): AttributeDrift[] {
  const get = (attrs: Record<string, string[]>, n: string) => Object.entries(attrs).find(([k]) => lower(k) === n)?.[1] ?? [];
  const canon = (vs: string[], ci: boolean) => [...new Set(vs.map((v) => (ci ? lower(v.trim()) : v.trim())).filter((v) => v !== ""))].sort();
  const out: AttributeDrift[] = [];
  for (const n of names) {
    const [e, a] = [canon(get(expected, n), rdn.has(n)), canon(get(actual, n), rdn.has(n))];
    if (e.length !== a.length || e.some((v, i) => v !== a[i])) out.push({ name: Object.keys(expected).find((k) => lower(k) === n) ?? n, expected: get(expected, n), actual: get(actual, n) });
  }
  return out;
}

function objectClassFilter(rule: DeliverableGroupRule): string {
  const classes = rule.objectClasses.filter((c) => lower(c) !== "top");
  return classes.length === 1 ? `(objectClass=${classes[0]})` : `(&${classes.map((c) => `(objectClass=${c})`).join("")})`;
}

/** Reconciles every group rule, one after the other. */
export async function reconcileGroups(o: GroupReconcileOptions): Promise<GroupReconcileReport[]> {
  const out: GroupReconcileReport[] = [];
  for (const rule of o.rules) out.push(await reconcileGroupRule(o, rule));
  return out;
}

interface Expected {
  id: string;
  dn: string;
  attributes: Record<string, string[]>;
}

async function reconcileGroupRule(o: GroupReconcileOptions, rule: DeliverableGroupRule): Promise<GroupReconcileReport> {
  const pageSize = o.pageSize ?? 500;
  const { base, scope } = ruleBase(rule);
  const report: GroupReconcileReport = { kind: "Group", rule: rule.name, target: rule.target, base, scope, expected: 0, missing: [], extra: [], unmanaged: [], differing: [], unmappable: [], checked: 0, repaired: 0, members: [] };
  const target = o.targets.get(rule.target);
  if (!target) return { ...report, error: `target ${rule.target} is not configured` };
  const sources = o.memberRules(rule.target);
  const at = (o.now ?? (() => new Date()))().toISOString();

  const memberRules = [...sources.users, ...sources.groups];
  // Expected member DNs of a group in this directory, keyed by normalised DN → member id.
  const expectedMembers = async (groupId: string): Promise<Map<string, { id: string; dn: string }>> => {
    const m = new Map<string, { id: string; dn: string }>();
    for (const r of await o.store.memberRepairs.deliveredMemberDns(groupId, memberRules)) {
      const key = norm(r.dn);
      if (!m.has(key)) m.set(key, r);
    }
    return m;
  };

  // ---- expected groups ----
  const expected = new Map<string, Expected>();
  for await (const ids of o.store.scan.pages("Group", pageSize)) {
    for (const id of ids) {
      const group = await o.readResource("Group", id, { members: rule.filterNeedsMembers });
      if (!group || !matchesGroupRule(rule, group)) continue;
      try {
        const mapped = await mapGroup(rule, group);
        // emptyGroups "skip" keeps no entry for a group without (delivered) members.
        if (rule.needsMember && rule.emptyGroups === "skip" && rule.actions.members && (await expectedMembers(id)).size === 0) continue;
        expected.set(norm(mapped.dn), { id, ...mapped });
      } catch (e) {
        report.unmappable.push({ id, error: e instanceof Error ? e.message : String(e) });
      }
    }
  }
  report.expected = expected.size;

  // ---- the directory, page by page ----
  const memberAttr = rule.memberAttribute;
  const names = [...new Set(rule.mappings.map((m) => lower(m.attribute)))];
  const unexpected: UnexpectedEntry[] = [];
  /** Repairs to queue, each run inside the one transaction that queues them all. */
  const repairs: ((tx: StoreQueries) => Promise<void>)[] = [];
  try {
    await target.connection.run(async (c) => {
      try {
        for await (const result of c.searchPaginated(base, { scope, filter: objectClassFilter(rule), attributes: [...names, memberAttr, ...DIRECTORY_ID_ATTRIBUTES], explicitBufferAttributes: ["objectGUID"], paged: { pageSize } })) {
          for (const entry of result.searchEntries) {
            report.checked += 1;
            const want = expected.get(norm(entry.dn));
            const actual = normalizeEntry(entry);
            if (!want) {
              unexpected.push({ dn: entry.dn, directoryId: directoryIdOf(actual) });
              continue;
            }
            expected.delete(norm(entry.dn));
            const rdn = new Set((parseDn(want.dn)[0] ?? []).map((a) => lower(a.type)));
            const attrDrift = drift([...new Set([...names, ...rdn])], rdn, want.attributes, actual);
            if (attrDrift.length) {
              report.differing.push({ id: want.id, dn: entry.dn, attributes: attrDrift });
              repairs.push((tx) => rememberActual(tx, rule, want.id, attrDrift, at));
            }
            if (!rule.actions.members) continue;
            const have = await readAllValues(c, entry.dn, memberAttr, entry);
            const expectMembers = await expectedMembers(want.id);
            const placeholder = norm(rule.placeholderDn);
            const haveKeys = new Map(have.map((v) => [norm(v), v] as const));
            const missing = [...expectMembers.entries()].filter(([k]) => !haveKeys.has(k)).map(([, v]) => v);
            // The placeholder is expected exactly when a must-have-member group has no member.
            const expectPlaceholder = rule.needsMember && expectMembers.size === 0;
            const extra = [...haveKeys.entries()].filter(([k]) => !expectMembers.has(k) && !(k === placeholder && expectPlaceholder)).map(([, v]) => v);
            if (!missing.length && !extra.length) continue;
            report.members.push({
              id: want.id,
              dn: entry.dn,
              missingCount: missing.length,
              extraCount: extra.length,
              missing: missing.slice(0, LISTED_MEMBERS).map((m) => m.dn),
              extra: extra.slice(0, LISTED_MEMBERS),
            });
            const hasPlaceholder = haveKeys.has(placeholder);
            repairs.push((tx) => queueMemberRepair(tx, rule, want.id, missing, extra.filter((v) => norm(v) !== placeholder), hasPlaceholder, at));
          }
          o.onProgress?.({ rule: rule.name, phase: "directory", done: report.checked });
        }
      } catch (e) {
        if ((e as { code?: unknown }).code !== 32) throw e; // the base does not exist yet: all missing
      }
    });
  } catch (e) {
    return { ...report, error: `directory search under ${base} failed: ${describeLdapError(e)}` };
  }
  for (const want of expected.values()) {
    report.missing.push({ id: want.id, dn: want.dn });
    repairs.push(async (tx) => {
      await tx.sync.update("Group", want.id, rule.name, { written: null, dn: null, directoryId: null, updated: at });
      await tx.memberSync.markAllDirty(rule.name, want.id);
      await tx.sync.refreshGroup(want.id, [], at);
    });
  }
  Object.assign(report, await classifyUnexpected(o.store, rule, unexpected));

  if (o.dryRun) return report;
  await o.store.transaction(async (tx) => {
    for (const r of repairs) await r(tx);
    report.repaired += report.missing.length + report.differing.length + report.members.length;
    const handedBack = await queueOwnershipRepairs(tx, rule, report, o.deleteUnmanaged === true, at);
    report.repaired += handedBack;
  });
  return report;
}

/** The directory's values of the differing attributes become `written`, so the planner replaces them. */
async function rememberActual(tx: StoreQueries, rule: DeliverableGroupRule, id: string, attrs: AttributeDrift[], at: string): Promise<void> {
  const row = await tx.sync.get("Group", id, rule.name);
  if (!row?.written) return;
  const written = JSON.parse(row.written) as WrittenGroup;
  for (const a of attrs) {
    const key = Object.keys(written.attributes).find((k) => lower(k) === lower(a.name)) ?? a.name;
    written.attributes[key] = [...a.actual];
  }
  await tx.sync.update("Group", id, rule.name, { written: JSON.stringify(written), updated: at });
  await tx.sync.refreshGroup(id, [], at);
}

async function queueMemberRepair(
  { memberSync: members, memberRepairs: memberships, sync }: StoreQueries,
  rule: DeliverableGroupRule,
  groupId: string,
  missing: { id: string; dn: string }[],
  extra: string[],
  hasPlaceholder: boolean,
  at: string,
): Promise<void> {
  const touched: string[] = [];
  // A missing member: its pair is marked unwritten, so the delivery adds the value again.
  for (const m of missing) {
    await members.markDirty(rule.name, groupId, m.id);
    await memberships.markUnwritten(rule.name, groupId, m.id);
    touched.push(m.id);
  }
  // An extra value: the pair that wrote it is evicted, or one is made for it.
  const owners = new Map((await memberships.writtenMembers(rule.name, groupId)).map((r) => [norm(r.dn), r.id] as const));
  for (const value of extra) {
    const id = owners.get(norm(value));
    if (id !== undefined) await members.markDirty(rule.name, groupId, id, true);
    else await memberships.evictValue(rule.name, groupId, `dn:${value}`, value);
    touched.push(id ?? `dn:${value}`);
  }
  // The planner's view of the placeholder follows the directory, so it adds or removes it as needed.
  const row = await sync.get("Group", groupId, rule.name);
  if (row?.written) {
    const written = JSON.parse(row.written) as WrittenGroup;
    if (written.placeholder !== hasPlaceholder) await sync.update("Group", groupId, rule.name, { written: JSON.stringify({ ...written, placeholder: hasPlaceholder }) });
  }
  await sync.refreshGroup(groupId, touched, at);
}
