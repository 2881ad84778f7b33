/**
 * Reconciliation: compares each user rule's expected entries with what its directory holds under
 * the rule's base, reports drift (missing, differing, extra and unmanaged entries) and, unless it
 * is a dry run, queues the repairs in the outbox for the delivery worker.
 *
 * Memory: LDAP paging order is the server's, so a sort-merge on DN is not possible. One side is
 * indexed instead: a Map from the normalised expected DN to "<id>\n<account state><digest of the
 * expected mapped attributes>" (strings only, ~150 bytes an entry: ~15 MB at 100,000 users). The
 * directory is then streamed with a paged search (500 entries a page) and each entry is checked
 * against the map, and removed from it once seen; what is left at the end is missing. Only entries
 * whose digest differs are mapped again to say which attributes differ. So: the map plus one page.
 *
 * Comparison: the rule's mapped attributes (preset + rule mappings, plus the RDN attribute) are
 * compared as sets of values, exactly after trimming, except the naming (RDN) attributes, which
 * compare case-insensitively as the planner does. The account state is compared too where the
 * rule manages it: a user inactive in SCIM must be disabled in the directory (actions.disable),
 * an active one enabled (actions.enable), read with the preset's stateAttributes and isDisabled.
 * objectClass and passwords are not compared.
 *
 * Ownership (hooks/entry-ownership.ts): an entry the rule does not expect is `extra` when the rule
 * wrote it (its sync_state row, or a tombstone, by DN and entryUUID/objectGUID) and `unmanaged`
 * otherwise (another rule's entry under a shared base, a service account, one made by hand).
 * Reconcile never deletes what it does not own, and never deletes anything itself.
 *
 * Repairs go through the outbox and the worker, never straight to LDAP:
 * - missing: the sync_state row's `written` is cleared, so the next delivery plans an add;
 * - differing: the differing attributes in `written` are replaced by the directory's values, and
 *   its `active` by the state the entry is in, so the planner's diff sends exactly what is needed
 *   (a `replace`, or the preset's disable or enable);
 * - a leftover (tombstoned extra): handed back to its resource's sync_state row, so the delivery
 *   deprovisions it with the rule's action (hooks/reconcile-repairs.ts);
 * - unmanaged: deleted only when asked (`deleteUnmanaged`), and only those no rule wrote, through
 *   an Entry row the worker deletes (hooks/entry-delivery.ts);
 * then a change is queued (as `scimbridge resync` does); the worker fans it out and delivers.
 * Extra entries the rule's sync_state rows hold (a user who left the filter with onLeaveFilter
 * disable) are the deliveries' business: reported, never repaired here.
 */
import { createHash } from "node:crypto";
import type { Store, StoreQueries } from "../../db/store.js";
import type { ResourceKind, SchemaRegistry } from "../../schemas/registry.js";
import type { TargetConfig } from "../rules/config.js";
import { classifyUnexpected, DIRECTORY_ID_ATTRIBUTES, directoryIdOf, type OwnedEntry, type UnexpectedEntry, type UnmanagedEntry } from "../delivery/entry-ownership.js";
import type { LdapTarget } from "../ldap/connection.js";
import { dnKey, parseDn } from "../ldap/dn.js";
import { describeLdapError } from "../ldap/errors.js";
import { normalizeEntry } from "../ldap/executor.js";
import { ownershipRepairsNeeded, queueOwnershipRepairs } from "./reconcile-repairs.js";
import { mapUser, matchesRule, type CompiledRule, type MappedEntry } from "../rules/mapping.js";
import type { WrittenEntry } from "../planning/planner.js";

export interface ReconcileOptions {
  store: Store;
  /** Kept for symmetry with the worker; rules are already compiled against it. */
  registry?: SchemaRegistry;
  rules: CompiledRule[];
  targets: Map<string, { config: TargetConfig; connection: LdapTarget }>;
  /** Reads a resource in wire shape (with `groups`), or undefined when it no longer exists (db/read-resource.ts). */
  readResource: (kind: ResourceKind, id: string) => Promise<Record<string, unknown> | undefined>;
  dryRun: boolean;
  /** Also delete entries under the rule's base that the rule did not write (an explicit opt-in). */
  deleteUnmanaged?: boolean;
  onProgress?: (p: ReconcileProgress) => void;
  /** Users read from the store per batch, and LDAP page size. Default 500. */
  pageSize?: number;
  now?: () => Date;
}

export interface ReconcileProgress {
  rule: string;
  phase: "expected" | "directory" | "repair";
  done: number;
  /** Known for the expected phase (users in the store). */
  total?: number;
}

export interface AttributeDrift {
  name: string;
  expected: string[];
  actual: string[];
  /**
   * Set when this is the account state (name is the preset's state attribute; expected and actual
   * are "disabled" or "enabled"): the preset op that repairs it.
   */
  account?: "disable" | "enable";
}

export interface ReconcileReport {
  rule: string;
  target: string;
  /** Where the directory was searched, and how (see ruleBase). */
  base: string;
  scope: "one" | "sub";
  /** Users the rule maps (matching its filter and mappable). */
  expected: number;
  missing: { id: string; dn: string }[];
  /** Entries under the base the rule wrote but does not expect (see OwnedEntry.provenance). */
  extra: OwnedEntry[];
  /** Entries under the base the rule did not write: never deleted unless deleteUnmanaged. */
  unmanaged: UnmanagedEntry[];
  differing: { id: string; dn: string; attributes: AttributeDrift[] }[];
  /** Users the rule matches but cannot map (a DN placeholder without value, a failing expression). */
  unmappable: { id: string; error: string }[];
  /** Directory entries examined. */
  checked: number;
  /** Repairs queued in the outbox (0 in a dry run). */
  repaired: number;
  /** Set when the rule could not be reconciled at all (target unknown or unreachable). */
  error?: string;
}

/**
 * The search base and scope for a rule, from its DN template. Heuristic: the literal RDNs after the
 * last placeholder form the base; when every placeholder is in the first RDN (the usual
 * `uid={userName},ou=people,dc=…`) the entries are the base's direct children (scope one),
 * otherwise (`uid={userName},ou={department},dc=…`) the whole subtree below the literal suffix.
 */
export function ruleBase(rule: Pick<CompiledRule, "dn">): { base: string; scope: "one" | "sub" } {
  let last = -1;
  rule.dn.forEach((p, i) => {
    if (typeof p !== "string") last = i;
  });
  const before = rule.dn.slice(0, Math.max(last, 0)).filter((p): p is string => typeof p === "string").join("");
  const tail = rule.dn.slice(last + 1).filter((p): p is string => typeof p === "string").join("");
  const comma = firstUnescapedComma(tail);
  const base = comma < 0 ? "" : tail.slice(comma + 1).trim();
  const placeholdersOnlyInFirstRdn = last < 0 || firstUnescapedComma(before) < 0;
  return { base, scope: placeholdersOnlyInFirstRdn && last >= 0 ? "one" : "sub" };
}

function firstUnescapedComma(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\") i += 1;
    else if (s[i] === ",") return i;
  }
  return -1;
}

/** The LDAP filter selecting the kind of entry the rule creates: all of its object classes. */
function ruleFilter(rule: CompiledRule): string {
  const classes = rule.objectClasses.filter((c) => c.toLowerCase() !== "top" && /^[A-Za-z][\w-]*$/.test(c));
  if (!classes.length) return "(objectClass=*)";
  return classes.length === 1 ? `(objectClass=${classes[0]})` : `(&${classes.map((c) => `(objectClass=${c})`).join("")})`;
}

const lower = (s: string) => s.toLowerCase();

interface Comparer {
  /** Lower-cased attribute names compared, sorted. */
  names: string[];
  caseIgnore: Set<string>;
}

function comparerOf(rule: CompiledRule, first: MappedEntry): Comparer {
  const rdn = (parseDn(first.dn)[0] ?? []).map((a) => lower(a.type));
  const names = new Set([...rule.mappings.map((m) => lower(m.attribute)), ...Object.keys(first.attributes).map(lower), ...rdn]);
  return { names: [...names].sort(), caseIgnore: new Set(rdn) };
}

function valuesOf(attrs: Record<string, string[]>, name: string): string[] {
  const direct = attrs[name];
  if (direct) return direct;
  const key = Object.keys(attrs).find((k) => lower(k) === name);
  return key === undefined ? [] : (attrs[key] ?? []);
}

function canonicalValues(values: string[], ignoreCase: boolean): string[] {
  const out = new Set<string>();
  for (const v of values) {
    const t = v.trim();
    if (t !== "") out.add(ignoreCase ? lower(t) : t);
  }
  return [...out].sort();
}

function digest(cmp: Comparer, attrs: Record<string, string[]>): string {
  const parts = cmp.names.map((n) => `${n}=${canonicalValues(valuesOf(attrs, n), cmp.caseIgnore.has(n)).join("\u0001")}`);
  return createHash("sha1").update(parts.join("\u0002")).digest("base64");
}

function attributeDrift(cmp: Comparer, expected: Record<string, string[]>, actual: Record<string, string[]>): AttributeDrift[] {
  const out: AttributeDrift[] = [];
  for (const n of cmp.names) {
    const e = canonicalValues(valuesOf(expected, n), cmp.caseIgnore.has(n));
    const a = canonicalValues(valuesOf(actual, n), cmp.caseIgnore.has(n));
    if (e.length !== a.length || e.some((v, i) => v !== a[i])) {
      const name = Object.keys(expected).find((k) => lower(k) === n) ?? n;
      out.push({ name, expected: valuesOf(expected, n), actual: valuesOf(actual, n) });
    }
  }
  return out;
}


/**
 * The account state a rule keeps an entry in, for the expected map: "d" disabled (inactive in
 * SCIM, actions.disable on), "e" enabled (active, actions.enable on), "-" not compared.
 */
function wantedState(rule: CompiledRule, mapped: MappedEntry): "d" | "e" | "-" {
  if (!mapped.active && rule.actions.disable) return "d";
  if (mapped.active && rule.actions.enable) return "e";
  return "-";
}

/** The account state drift of an entry read with the preset's state attributes, if any. */
function accountDrift(rule: CompiledRule, want: string, actual: Record<string, string[]>): AttributeDrift | undefined {
  if (want === "-") return undefined;
  const disabled = rule.preset.isDisabled(actual);
  if (disabled === (want === "d")) return undefined;
  const word = (d: boolean) => (d ? "disabled" : "enabled");
  return { name: rule.preset.stateAttributes[0] ?? "account state", expected: [word(want === "d")], actual: [word(disabled)], account: want === "d" ? "disable" : "enable" };
}

/** Reconciles every user rule (one after the other) and returns one report per rule. */
export async function reconcile(o: ReconcileOptions): Promise<ReconcileReport[]> {
  const reports: ReconcileReport[] = [];
  for (const rule of o.rules) reports.push(await reconcileRule(o, rule));
  return reports;
}

async function reconcileRule(o: ReconcileOptions, rule: CompiledRule): Promise<ReconcileReport> {
  const pageSize = o.pageSize ?? 500;
  const { base, scope } = ruleBase(rule);
  const report: ReconcileReport = { rule: rule.name, target: rule.target, base, scope, expected: 0, missing: [], extra: [], unmanaged: [], differing: [], unmappable: [], checked: 0, repaired: 0 };
  const target = o.targets.get(rule.target);
  if (!target) return { ...report, error: `target ${rule.target} is not configured` };

  // ---- expected side: users in seq order, 500 at a time; only DN → id + state + digest is kept ----
  const expected = new Map<string, string>();
  let cmp: Comparer | undefined;
  const total = await o.store.scan.count("User");
  let read = 0;
  for await (const ids of o.store.scan.pages("User", pageSize)) {
    for (const id of ids) {
      const resource = await o.readResource("User", id);
      if (!resource || !matchesRule(rule, resource)) continue;
      try {
        const mapped = await mapUser(rule, resource);
        cmp ??= comparerOf(rule, mapped);
        expected.set(dnKey(mapped.dn), `${id}\n${wantedState(rule, mapped)}${digest(cmp, mapped.attributes)}`);
      } catch (e) {
        report.unmappable.push({ id, error: e instanceof Error ? e.message : String(e) });
      }
    }
    read += ids.length;
    o.onProgress?.({ rule: rule.name, phase: "expected", done: read, total });
    // Let the server's requests and timers run between batches (mapping is CPU-bound).
    await new Promise((r) => setImmediate(r));
  }
  report.expected = expected.size;

  // ---- directory side: streamed page by page under the rule's base ----
  const unexpected: UnexpectedEntry[] = [];
  const comparesState = rule.actions.disable || rule.actions.enable;
  const attributes = [
    ...new Set(["objectClass", ...(cmp?.names ?? rule.mappings.map((m) => m.attribute)), ...DIRECTORY_ID_ATTRIBUTES, ...(comparesState ? rule.preset.stateAttributes : [])]),
  ];
  try {
    await target.connection.run(async (c) => {
      try {
        const search = c.searchPaginated(base, { scope, filter: ruleFilter(rule), attributes, explicitBufferAttributes: ["objectGUID"], paged: { pageSize } });
        for await (const result of search) {
          for (const entry of result.searchEntries) {
            report.checked += 1;
            const norm = dnKey(entry.dn);
            const hit = expected.get(norm);
            const actual = normalizeEntry(entry);
            if (hit === undefined) {
              unexpected.push({ dn: entry.dn, directoryId: directoryIdOf(actual) });
              continue;
            }
            expected.delete(norm);
            const nl = hit.lastIndexOf("\n");
            const [id, state, want] = [hit.slice(0, nl), hit.slice(nl + 1, nl + 2), hit.slice(nl + 2)];
            const drift: AttributeDrift[] = [];
            const account = accountDrift(rule, state, actual);
            if (account && !(await enableWaitsForPassword(o, rule, id, account))) drift.push(account);
            if (cmp && digest(cmp, actual) !== want) {
              // Mapped again only for the entries that differ, to say which attributes.
              const resource = await o.readResource("User", id);
              const mapped = resource ? await mapUser(rule, resource).catch(() => undefined) : undefined; // deleted meanwhile: its delivery deprovisions it
              if (mapped) drift.push(...attributeDrift(cmp, mapped.attributes, actual));
            }
            if (drift.length) report.differing.push({ id, dn: entry.dn, attributes: drift });
          }
          o.onProgress?.({ rule: rule.name, phase: "directory", done: report.checked });
        }
      } catch (e) {
        if ((e as { code?: unknown }).code !== 32) throw e; // 32: the base does not exist yet: all missing
      }
    });
  } catch (e) {
    return { ...report, error: `directory search under ${base} failed: ${describeLdapError(e)}` };
  }

  // ---- what was never seen is missing; its DN is mapped again (only these) ----
  for (const hit of expected.values()) {
    const id = hit.slice(0, hit.lastIndexOf("\n"));
    const resource = await o.readResource("User", id);
    const mapped = resource ? await mapUser(rule, resource).catch(() => undefined) : undefined;
    if (mapped) report.missing.push({ id, dn: mapped.dn });
  }
  expected.clear();

  // ---- entries the rule does not expect: its own (extra) or not (unmanaged) ----
  Object.assign(report, await classifyUnexpected(o.store, rule, unexpected));

  if (!o.dryRun) await repair(o, rule, report);
  return report;
}

/**
 * AD keeps an account created without a password disabled until one arrives (the planner does not
 * enable it: Preset.enableNeedsPassword), so such an entry being disabled is not drift.
 */
async function enableWaitsForPassword(o: ReconcileOptions, rule: CompiledRule, id: string, drift: AttributeDrift): Promise<boolean> {
  if (drift.account !== "enable" || !rule.preset.enableNeedsPassword) return false;
  const written = (await o.store.sync.get("User", id, rule.name))?.written;
  return written ? (JSON.parse(written) as WrittenEntry).passwordSet === false : false;
}

/** Queues every repair of a report in one transaction; nothing is sent to the directory here. */
async function repair(o: ReconcileOptions, rule: CompiledRule, report: ReconcileReport): Promise<void> {
  const at = (o.now ?? (() => new Date()))().toISOString();
  const queue = async (tx: StoreQueries, id: string, written: (current: WrittenEntry | undefined) => WrittenEntry | null) => {
    const row = await tx.sync.get("User", id, rule.name);
    if (row) {
      const current = row.written ? (JSON.parse(row.written) as WrittenEntry) : undefined;
      const next = written(current);
      await tx.sync.update("User", id, rule.name, { written: next === null ? null : JSON.stringify(next), updated: at });
    }
    // A new outbox change: fanned out as pending with a new wanted seq, delivered by the worker.
    // (the same row `scimbridge resync` queues, server/admin/status.ts requestResync).
    const version = await tx.repairs.versionOf("User", id);
    if (version === undefined) return;
    await tx.repairs.record({ kind: "User", id, op: "resync", version, at, client: "reconcile" });
    report.repaired += 1;
  };
  await o.store.transaction(async (tx) => {
    // Forgetting what was written makes the planner plan an add (the executor merges into an
    // entry that exists after all).
    for (const m of report.missing) await queue(tx, m.id, () => null);
    for (const d of report.differing) {
      await queue(tx, d.id, (current) => {
        if (!current) return null;
        const attrs = { ...current.attributes };
        let active = current.active;
        for (const a of d.attributes) {
          // The entry's state as `written`: the planner then sends the preset's disable or enable.
          if (a.account) {
            active = a.account === "disable";
            continue;
          }
          const key = Object.keys(attrs).find((k) => lower(k) === lower(a.name)) ?? a.name;
          attrs[key] = [...a.actual];
        }
        return { ...current, attributes: attrs, ...(active === undefined ? {} : { active }) };
      });
    }
    const handedBack = await queueOwnershipRepairs(tx, rule, report, o.deleteUnmanaged === true, at);
    report.repaired += handedBack;
  });
  o.onProgress?.({ rule: rule.name, phase: "repair", done: report.repaired });
}

/**
 * Whether a report holds drift a repairing run acts on: missing, differing (attributes, account
 * state, group members), a leftover to hand back, and unmanaged entries no rule wrote when they
 * are to be deleted. Extra entries a sync_state row holds and unmanaged ones left alone are
 * reported only.
 */
export function hasDrift(r: ReconcileReport, deleteUnmanaged = false): boolean {
  const members = (r as { members?: unknown[] }).members?.length ?? 0;
  return r.missing.length + r.differing.length + members + ownershipRepairsNeeded(r, deleteUnmanaged) > 0;
}

/** A one-line summary of a report, for the CLI and logs. */
export function summarize(r: ReconcileReport): string {
  if (r.error) return `rule ${r.rule} (target ${r.target}): ${r.error}`;
  const members = (r as { members?: unknown[] }).members;
  const membership = members === undefined ? "" : `, ${members.length} with differing members`;
  return `rule ${r.rule} (target ${r.target}, ${r.scope === "one" ? "children of" : "subtree"} ${r.base}): ${r.expected} expected, ${r.checked} in directory; ${r.missing.length} missing, ${r.extra.length} extra, ${r.unmanaged.length} unmanaged, ${r.differing.length} differing${membership}${r.unmappable.length ? `, ${r.unmappable.length} unmappable` : ""}${r.repaired ? `; ${r.repaired} repaired or queued` : ""}`;
}
