/**
 * One cursor page (RFC 9865 §2) over one or more resource types listed one after the other (the
 * root /.search lists Users, then Groups), read by keyset from the position a cursor holds. Pure
 * but for `read`, the store's keyset query.
 */
import type { CursorPosition } from "../../db/cursor.js";
import type { Boundary, KeyedResource } from "../../db/resources.js";
import type { ResourceKind } from "../../schemas/registry.js";

/** The store's keyset read of one resource type (ResourceQueries.keyset with the query's filter and order). */
export type KeysetRead = (kind: ResourceKind, from: Boundary | undefined, backward: boolean, limit: number) => Promise<KeyedResource[]>;

export interface Positioned {
  kind: ResourceKind;
  row: KeyedResource;
}

export interface CursorPageResult {
  rows: Positioned[];
  /** Where the next page starts: after this row, or "start" for the list's first page. */
  next?: CursorPosition | "start" | undefined;
  /** Where the previous page ends: before this row. */
  previous?: CursorPosition | undefined;
}

const positionOf = (p: Positioned): CursorPosition => ({ kind: p.kind, ...p.row.at });

/** Up to `limit` rows after `at` across `kinds` in order; before it, nearest first, when `backward`. */
export async function readAcross(kinds: readonly ResourceKind[], read: KeysetRead, at: CursorPosition | undefined, backward: boolean, limit: number): Promise<Positioned[]> {
  const order = backward ? [...kinds].reverse() : [...kinds];
  const first = at === undefined ? 0 : order.indexOf(at.kind);
  const out: Positioned[] = [];
  if (first < 0) return out;
  for (let i = first; i < order.length && out.length < limit; i++) {
    const kind = order[i]!;
    const from = at !== undefined && kind === at.kind ? at : undefined;
    for (const row of await read(kind, from, backward, limit - out.length)) out.push({ kind, row });
  }
  return out;
}

/**
 * The page a cursor asks for, with the boundaries of the pages around it. One row more than the
 * page is read to know whether another page follows (RFC 9865 §2: nextCursor is omitted only on
 * the last page); the other side is one indexed probe for a single row. The first page never has
 * a previous one (RFC 9865 §2, Table 2).
 */
export async function cursorPage(kinds: readonly ResourceKind[], read: KeysetRead, direction: "next" | "previous", at: CursorPosition | undefined, count: number): Promise<CursorPageResult> {
  if (count <= 0) return { rows: [] };
  const any = async (from: CursorPosition | undefined, backward: boolean) => (await readAcross(kinds, read, from, backward, 1)).length > 0;
  if (direction === "next") {
    const got = await readAcross(kinds, read, at, false, count + 1);
    const rows = got.slice(0, count);
    const next = got.length > count ? positionOf(rows[rows.length - 1]!) : undefined;
    const head = rows[0];
    const previous = at !== undefined && head && (await any(positionOf(head), true)) ? positionOf(head) : undefined;
    return { rows, next, previous };
  }
  const got = await readAcross(kinds, read, at, true, count + 1);
  const rows = got.slice(0, count).reverse();
  const previous = got.length > count ? positionOf(rows[0]!) : undefined;
  const tail = rows[rows.length - 1];
  // Nothing left before the cursor (those rows were deleted): the next page is the list's start.
  const next = tail ? ((await any(positionOf(tail), false)) ? positionOf(tail) : undefined) : (await any(undefined, false)) ? "start" : undefined;
  return { rows, next, previous };
}
