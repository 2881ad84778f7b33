/**
 * Comparing SCIM JSON by meaning (pure). Key order never matters; attribute names compare
 * case-insensitively (RFC 7643 §2.1: "Attribute names are case insensitive"); multi-valued
 * attributes compare as sets unless the caller says their order is meaningful.
 */

export interface CompareOptions {
  /** Compare arrays element by element in order (default: as multisets). */
  orderedArrays?: boolean;
  /** Compare string values ignoring case (an attribute whose caseExact is false, RFC 7643 §2.2). */
  caseInsensitiveValues?: boolean;
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** The object's keys folded to lower case; undefined values count as absent. */
function folded(o: Obj): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const [k, v] of Object.entries(o)) if (v !== undefined) m.set(k.toLowerCase(), v);
  return m;
}

/** True when `a` and `b` mean the same SCIM value. */
export function sameMeaning(a: unknown, b: unknown, opts: CompareOptions = {}): boolean {
  if (typeof a === "string" && typeof b === "string") return opts.caseInsensitiveValues ? a.toLowerCase() === b.toLowerCase() : a === b;
  if (Array.isArray(a) && Array.isArray(b)) return sameArray(a, b, opts);
  if (isObject(a) && isObject(b)) {
    const fa = folded(a);
    const fb = folded(b);
    if (fa.size !== fb.size) return false;
    for (const [k, v] of fa) if (!fb.has(k) || !sameMeaning(v, fb.get(k), opts)) return false;
    return true;
  }
  return Object.is(a, b) || a === b;
}

function sameArray(a: unknown[], b: unknown[], opts: CompareOptions): boolean {
  if (a.length !== b.length) return false;
  if (opts.orderedArrays) return a.every((v, i) => sameMeaning(v, b[i], opts));
  const left = [...b];
  for (const v of a) {
    const i = left.findIndex((w) => sameMeaning(v, w, opts));
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return true;
}

/** Reads an attribute of a SCIM object by name, ignoring case (RFC 7643 §2.1). */
export function attr(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

/** Whether the object carries the attribute (any case). */
export function hasAttr(obj: unknown, name: string): boolean {
  return attr(obj, name) !== undefined;
}
