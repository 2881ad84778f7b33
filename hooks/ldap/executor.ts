/**
 * Executes planned LdapOps against one target, in order, so that running them again after an
 * unseen success ends in the same directory state (design.md decision 2; the retry outcomes per
 * operation are in ldap-targets.md §5.5, measured on OpenLDAP and Samba).
 */
import { Attribute, Change, type Client, type Entry } from "ldapts";
import { classifyLdapError, describeLdapFailure } from "./errors.js";
import type { LdapTarget } from "./connection.js";
import { MEMBER_VALUE_ALREADY_ABSENT, MEMBER_VALUE_ALREADY_PRESENT, type LdapModification, type LdapOp, type LdapValue } from "../planning/ops.js";

export interface ExecOptions {
  /** A modify/setBits of a missing entry may run `recreate` (an add) instead. */
  createIfMissing: boolean;
  /** The add for the entry the ops are about, used when createIfMissing and the entry is gone. */
  recreate?: Extract<LdapOp, { kind: "add" }>;
  /**
   * What a create runs right after its add (account state that is operational, such as
   * pwdAccountLockedTime, cannot be in the add): run after `recreate`, so a re-created entry
   * carries its lock as a created one does.
   */
  recreateAfter?: LdapOp[];
  /**
   * Attribute holding our own identifier for the entry (e.g. employeeNumber = SCIM id). When an add
   * meets an existing entry, it is "ours" only if this attribute carries the value the add carries;
   * otherwise the add fails permanently (68) instead of overwriting someone else's entry.
   */
  correlation?: { attribute: string };
  /** Read entryUUID/objectGUID even when no add ran. */
  readDirectoryId?: boolean;
}

export interface ExecResult {
  /** Final DN of the entry the first op addressed (after any modifyDN of it). */
  dn: string;
  /** entryUUID (RFC 4530; OpenLDAP, PingDirectory) or objectGUID (AD), when read. */
  directoryId?: string;
  /** Ops completed, including those that found their work already done. */
  applied: number;
  /** The entry was missing and was added again from `recreate`. */
  recreated: boolean;
}

export class LdapDeliveryError extends Error {
  readonly transient: boolean;
  readonly code?: number;
  /** Index in `ops` of the operation that failed. */
  readonly opIndex: number;
  /** The failure was connecting/binding, not this operation. */
  readonly connection: boolean;
  constructor(message: string, o: { transient: boolean; code?: number; opIndex: number; connection?: boolean; cause?: unknown }) {
    super(message, { cause: o.cause });
    this.name = "LdapDeliveryError";
    this.transient = o.transient;
    this.code = o.code;
    this.opIndex = o.opIndex;
    this.connection = o.connection ?? false;
  }
}

const MEMBER_ATTRIBUTES = new Set(["member", "uniquemember"]);
/** Binary attributes ldapts must hand back as Buffers; matched case-sensitively against the
 *  server's spelling (ldap-targets.md §4.5), which is AD's spelling. */
const BUFFER_ATTRIBUTES = ["objectGUID", "objectSid"];
const ID_ATTRIBUTES = ["entryUUID", "objectGUID"];

/** Runs `ops` in order; throws LdapDeliveryError at the first one that cannot be made to hold. */
export async function executeOps(target: LdapTarget, ops: LdapOp[], opts: ExecOptions): Promise<ExecResult> {
  let dn = ops[0]?.dn ?? opts.recreate?.dn ?? "";
  let added = false;
  let deleted = false;
  let recreated = false;
  let applied = 0;
  for (const [i, op] of ops.entries()) {
    try {
      const outcome = await target.run((c) => executeOne(c, op, opts));
      if (outcome.added) added = true;
      if (outcome.recreated) recreated = true;
      if (sameDnLoose(op.dn, dn)) {
        if (op.kind === "modifyDN") dn = outcome.newDn ?? dn;
        if (op.kind === "delete") deleted = true;
        else if (op.kind === "add") deleted = false;
      }
      applied += 1;
    } catch (e) {
      throw toDeliveryError(e, i);
    }
  }
  let directoryId: string | undefined;
  if (dn && !deleted && (added || opts.readDirectoryId)) {
    try {
      const entry = await readEntry(target, dn, ID_ATTRIBUTES);
      directoryId = entry?.["entryuuid"]?.[0] ?? entry?.["objectguid"]?.[0];
    } catch (e) {
      throw toDeliveryError(e, ops.length);
    }
  }
  return { dn, ...(directoryId ? { directoryId } : {}), applied, recreated };
}

/** Reads one entry (base search). Keys are lower-cased, every value is a string[] (§4.5);
 *  objectGUID becomes a GUID string, objectSid an S-1-… string, other binary values base64. */
export async function readEntry(target: LdapTarget, dn: string, attributes: string[]): Promise<Record<string, string[]> | undefined> {
  return target.run((c) => read(c, dn, attributes));
}

interface Outcome {
  /** An add created the entry or merged into it: read its directory id afterwards. */
  added?: boolean;
  newDn?: string;
  /** A missing entry was added again (ExecOptions.recreate). */
  recreated?: boolean;
}

async function executeOne(c: Client, op: LdapOp, opts: ExecOptions): Promise<Outcome> {
  switch (op.kind) {
    case "add":
      return addOrMerge(c, op, opts);
    case "delete":
      try {
        await c.del(op.dn);
      } catch (e) {
        if (codeOf(e) !== 32) throw e; // already gone
      }
      return {};
    case "modify":
      return modify(c, op.dn, op.changes, opts);
    case "setBits":
      return setBits(c, op, opts);
    case "modifyDN":
      return modifyDn(c, op);
  }
}

async function addOrMerge(c: Client, op: Extract<LdapOp, { kind: "add" }>, opts: ExecOptions): Promise<Outcome> {
  const attrs = Object.entries(op.attributes)
    .filter(([, values]) => values.length > 0) // ldapts sends [] as-is and the server rejects it (§4.3)
    .map(([type, values]) => attribute(type, values));
  try {
    await c.add(op.dn, attrs);
    return { added: true };
  } catch (e) {
    if (codeOf(e) !== 68) throw e;
  }
  // 68: our earlier add may have succeeded unseen, or the entry (or a unique value) is someone else's.
  const corr = opts.correlation?.attribute;
  const existing = await read(c, op.dn, corr ? [corr] : ["1.1"]);
  if (!existing) {
    // AD/Samba answer 68 for a sAMAccountName/UPN already used by another entry (§1.1).
    throw new LdapDeliveryError(`add ${op.dn}: 68 entryAlreadyExists, but not at this DN (a unique value is taken elsewhere)`, {
      transient: false,
      code: 68,
      opIndex: -1,
    });
  }
  const wanted = corr ? valuesOf(op.attributes, corr) : undefined;
  if (corr && wanted) {
    const have = existing[corr.toLowerCase()] ?? [];
    const mine = wanted.length > 0 && wanted.every((v) => have.includes(typeof v === "string" ? v : v.toString("utf8")));
    if (!mine) {
      throw new LdapDeliveryError(`add ${op.dn}: an entry exists there and its ${corr} (${have.join(", ") || "none"}) is not ours`, {
        transient: false,
        code: 68,
        opIndex: -1,
      });
    }
  }
  // Ours: bring it to the add's state. objectClass is left alone (changing the structural class is
  // refused, 69) and so is the RDN attribute (AD: 67 notAllowedOnRDN, §1.6); passwords are kept.
  const rdnTypes = new Set(rdnAttributeTypes(op.dn));
  const changes = Object.entries(op.attributes)
    .filter(([type, values]) => values.length > 0 && type.toLowerCase() !== "objectclass" && !rdnTypes.has(type.toLowerCase()))
    .map(([type, values]) => new Change({ operation: "replace", modification: attribute(type, values) }));
  if (changes.length) await c.modify(op.dn, changes);
  // A retry after an unseen success lands here: the caller still needs the id it never got.
  return { added: true };
}

async function modify(c: Client, dn: string, changes: LdapModification[], opts: ExecOptions): Promise<Outcome> {
  if (changes.length === 0) return {};
  try {
    await c.modify(dn, changes.map(toChange));
    return {};
  } catch (e) {
    const code = codeOf(e);
    const tolerated = memberTolerance(changes);
    if (code !== undefined && tolerated?.codes.includes(code)) {
      if (tolerated.values === 1) return {};
      // One value of several was already so and the whole modify was refused (it is atomic,
      // RFC 4511 §4.6): redo value by value, tolerating each.
      for (const ch of changes) {
        for (const v of ch.values) await modify(c, dn, [{ ...ch, values: [v] }], opts);
      }
      return {};
    }
    if (code !== 32) throw e;
    return missingEntry(c, dn, e, opts, tolerated !== undefined && changes[0]?.operation === "add");
  }
}

/** 32 on a modify: either the entry is gone, or (AD) a member DN being added does not exist. */
async function missingEntry(c: Client, dn: string, e: unknown, opts: ExecOptions, memberAdd: boolean): Promise<Outcome> {
  if (await read(c, dn, ["1.1"])) {
    if (memberAdd) {
      // AD checks member DNs exist (§1.5, 00000525); the user's add is likely still queued (§5.6).
      throw new LdapDeliveryError(`modify ${dn}: a member DN does not exist (yet): ${classifyLdapError(e).message}`, {
        transient: true,
        code: 32,
        opIndex: -1,
      });
    }
    throw e;
  }
  if (opts.createIfMissing && opts.recreate) {
    const out = await addOrMerge(c, opts.recreate, opts);
    const once = { ...opts, createIfMissing: false };
    for (const op of opts.recreateAfter ?? []) await executeOne(c, op, once);
    return { added: out.added ?? false, recreated: true };
  }
  throw new LdapDeliveryError(`${dn}: entry does not exist (32 noSuchObject)${opts.createIfMissing ? "; no add to recreate it with" : ""}`, {
    transient: false,
    code: 32,
    opIndex: -1,
    cause: e,
  });
}

/** Read-modify-write of a bit mask (AD userAccountControl, §1.2). Ops on one entry are serialised
 *  by the delivery worker (design.md decision 3), so the window is only against other writers. */
async function setBits(c: Client, op: Extract<LdapOp, { kind: "setBits" }>, opts: ExecOptions): Promise<Outcome> {
  const entry = await read(c, op.dn, [op.attribute]);
  if (!entry) {
    const missing = Object.assign(new Error(`noSuchObject ${op.dn}`), { code: 32 });
    return missingEntry(c, op.dn, missing, opts, false);
  }
  const raw = entry[op.attribute.toLowerCase()]?.[0] ?? "0"; // absent = no bits set
  const current = Number(raw);
  if (!Number.isInteger(current)) {
    throw new LdapDeliveryError(`setBits ${op.dn}: ${op.attribute} is not an integer (${raw})`, { transient: false, opIndex: -1 });
  }
  // JS bit operators work on signed 32-bit integers, which is how AD writes INTEGER flag
  // attributes (groupType -2147483646 = 0x80000002, MS-ADTS 2.2.12).
  const next = (current | op.set) & ~op.clear;
  if (next !== (current | 0)) {
    await c.modify(op.dn, new Change({ operation: "replace", modification: attribute(op.attribute, [String(next)]) }));
  }
  return {};
}

async function modifyDn(c: Client, op: Extract<LdapOp, { kind: "modifyDN" }>): Promise<Outcome> {
  const newDn = `${op.newRdn},${op.newSuperior ?? parentDn(op.dn)}`;
  try {
    await c.modifyDN(op.dn, ldaptsNewDn(op.newRdn, op.newSuperior));
  } catch (e) {
    // 32: the old DN is gone; if the new one exists, an earlier try already moved it (§5.5).
    if (codeOf(e) !== 32 || !(await read(c, newDn, ["1.1"]))) throw e;
  }
  return { newDn };
}

/**
 * The newDN string for ldapts 8.2 modifyDN(dn, newDN). ldapts splits a string at the first comma
 * not preceded by a backslash (/[^\\],/) into newrdn and newSuperior (§4.4). Re-escaping the RDN's
 * `\c` escapes in hex (`\2C`, RFC 4514 §2.4) leaves it with no comma and no trailing backslash, so
 * the split lands exactly between newRdn and newSuperior, even for `cn=a\\` or `cn=Doe\, John`.
 */
export function ldaptsNewDn(newRdn: string, newSuperior?: string): string {
  const rdn = newRdn.replace(/\\([0-9a-fA-F]{2})|\\(.)/gsu, (m: string, hex: string | undefined, ch: string | undefined) =>
    hex !== undefined ? m : [...Buffer.from(ch ?? "", "utf8")].map((b) => `\\${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
  // after re-escaping, a backslash is always followed by two hex digits, so a trailing one is lone
  if (rdn.includes(",") || rdn.endsWith("\\") || !rdn.includes("=")) {
    throw new LdapDeliveryError(`modifyDN: newRdn is not one escaped RDN: ${newRdn}`, { transient: false, code: 34, opIndex: -1 });
  }
  return newSuperior ? `${rdn},${newSuperior}` : rdn;
}

// --- helpers --------------------------------------------------------------------------------------

async function read(c: Client, dn: string, attributes: string[]): Promise<Record<string, string[]> | undefined> {
  try {
    const { searchEntries } = await c.search(dn, {
      scope: "base",
      filter: "(objectClass=*)",
      attributes,
      explicitBufferAttributes: BUFFER_ATTRIBUTES,
    });
    const entry = searchEntries[0];
    return entry ? normalizeEntry(entry) : undefined;
  } catch (e) {
    if (codeOf(e) === 32) return undefined;
    throw e;
  }
}

/** Lower-cased keys, string[] values (ldapts returns a scalar for one value, §4.5); no `dn`. */
export function normalizeEntry(entry: Entry): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key === "dn") continue;
    const k = key.toLowerCase();
    const list = Array.isArray(value) ? value : [value];
    out[k] = [...(out[k] ?? []), ...list.map((v: string | Buffer) => (typeof v === "string" ? v : binaryToString(k, v)))];
  }
  return out;
}

function binaryToString(key: string, v: Buffer): string {
  if (key === "objectguid" && v.length === 16) return guidString(v);
  if (key === "objectsid" && v.length >= 8) return sidString(v);
  return v.toString("base64");
}

/** objectGUID bytes → "xxxxxxxx-xxxx-…": the first three fields are little-endian (MS-DTYP 2.3.4). */
export function guidString(b: Buffer): string {
  const hex = (buf: Buffer) => buf.toString("hex");
  const le = (start: number, len: number) => hex(Buffer.from(b.subarray(start, start + len)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

/** objectSid bytes → "S-1-5-21-…" (MS-DTYP 2.4.2). */
function sidString(b: Buffer): string {
  const count = b.readUInt8(1);
  const authority = b.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count && 8 + 4 * i + 4 <= b.length; i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-${b.readUInt8(0)}-${authority}${subs.map((s) => `-${s}`).join("")}`;
}

function attribute(type: string, values: LdapValue[]): Attribute {
  // Buffers (AD unicodePwd) need Attribute; the object form of add() takes strings only (§4.3).
  return new Attribute({ type, values: values.some((v) => Buffer.isBuffer(v)) ? values.map(toBuffer) : (values as string[]) });
}

function toBuffer(v: LdapValue): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v, "utf8");
}

function toChange(m: LdapModification): Change {
  return new Change({ operation: m.operation, modification: attribute(m.attribute, m.values) });
}

/** Codes meaning "already so" when every change is a value add or delete of member/uniqueMember;
 *  undefined when the modify is anything else. A mixed one (a member value rewritten in a new
 *  spelling: delete the old, add the new) takes both sets: redone value by value, its delete of a
 *  value someone already removed is skipped and its add still lands. */
function memberTolerance(changes: LdapModification[]): { codes: readonly number[]; values: number } | undefined {
  const first = changes[0];
  if (!first) return undefined;
  const valueChanges = changes.every((ch) => ch.operation !== "replace" && MEMBER_ATTRIBUTES.has(ch.attribute.toLowerCase()) && ch.values.length > 0);
  if (!valueChanges) return undefined;
  const values = changes.reduce((n, ch) => n + ch.values.length, 0);
  if (changes.some((ch) => ch.operation !== first.operation)) return { codes: [...MEMBER_VALUE_ALREADY_ABSENT, ...MEMBER_VALUE_ALREADY_PRESENT], values };
  return { codes: first.operation === "add" ? MEMBER_VALUE_ALREADY_PRESENT : MEMBER_VALUE_ALREADY_ABSENT, values };
}

function valuesOf(attrs: Record<string, LdapValue[]>, name: string): LdapValue[] | undefined {
  const key = Object.keys(attrs).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : attrs[key];
}

function codeOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

function toDeliveryError(e: unknown, opIndex: number): LdapDeliveryError {
  if (e instanceof LdapDeliveryError) {
    return e.opIndex === opIndex ? e : new LdapDeliveryError(e.message, { ...e, opIndex, connection: e.connection, cause: e.cause });
  }
  const cls = classifyLdapError(e);
  // Never ldapts's bare "Code: 0x50": the result's name, the server's diagnostic and a hint.
  return new LdapDeliveryError(describeLdapFailure(e), { transient: cls.transient, code: cls.code, opIndex, connection: cls.connection, cause: e });
}

/** Index just past the first RDN: the first comma not escaped by a backslash (RFC 4514 §3). */
function firstRdnEnd(dn: string): number {
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === "\\") i += 1;
    else if (dn[i] === ",") return i;
  }
  return dn.length;
}

function parentDn(dn: string): string {
  return dn.slice(firstRdnEnd(dn) + 1).trim();
}

/** Attribute types of the first RDN, lower-cased (`cn=a+uid=b` → cn, uid). */
function rdnAttributeTypes(dn: string): string[] {
  const rdn = dn.slice(0, firstRdnEnd(dn));
  const types: string[] = [];
  let start = 0;
  for (let i = 0; i <= rdn.length; i++) {
    if (rdn[i] === "\\") i += 1;
    else if (i === rdn.length || rdn[i] === "+") {
      types.push((rdn.slice(start, i).split("=")[0] ?? "").trim().toLowerCase());
      start = i + 1;
    }
  }
  return types;
}

/** The ops of one plan come from one planner in one spelling; a case-insensitive compare suffices
 *  to follow the primary entry through renames (servers' normalised DNs are never compared here). */
function sameDnLoose(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
