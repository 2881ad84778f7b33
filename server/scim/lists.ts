/**
 * Lists (RFC 7644 §3.4.2): index paging with startIndex and count, and cursor paging (RFC 9865)
 * when the request names a cursor. The filter and sort key become SQL (db/filter-sql.ts); only the
 * page is read and rendered.
 */
import type { SQL } from "drizzle-orm";
import { queryDigest, type CursorCodec, type CursorPosition } from "../../db/cursor.js";
import { compileFilter, compileSortKey } from "../../db/filter-sql.js";
import type { ListQuery, StoredResource } from "../../db/resources.js";
import type { Store } from "../../db/store.js";
import { badRequest, ScimError } from "../../schemas/errors.js";
import { FilterError } from "../../schemas/filter/ast.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { DEFAULT_LIMITS, type ScimLimits } from "../../schemas/limits.js";
import type { ResourceKind, SchemaRegistry } from "../../schemas/registry.js";
import { endpointOf, type RenderContext } from "../../schemas/render.js";
import { cursorPage, type KeysetRead } from "./cursor-paging.js";
import type { ListParams, PagingLimits } from "./list-params.js";

export interface ListResult {
  totalResults: number;
  /** Index paging only (RFC 7644 §3.4.2.4); a cursor page has none (RFC 9865 §2). */
  startIndex?: number | undefined;
  itemsPerPage: number;
  resources: Record<string, unknown>[];
  /** Cursor paging (RFC 9865 §2 Table 2): absent on the last page. */
  nextCursor?: string | undefined;
  /** Cursor paging: absent on the first page. */
  previousCursor?: string | undefined;
}

/**
 * How long a cursor stays valid, advertised as pagination.cursorTimeout (RFC 9865 §4). A cursor
 * holds no server state (it is a sealed keyset position), so the bound only limits how long a
 * copied cursor keeps working; an hour covers a slow client paging a million resources.
 */
export const CURSOR_TIMEOUT_SECONDS = 3600;

export interface ListDeps {
  store: Pick<Store, "resources" | "filters">;
  registry: SchemaRegistry;
  paging: PagingLimits;
  now: () => Date;
  cursors: CursorCodec;
  /** A stored resource as the wire shows it, projected by attributes/excludedAttributes. */
  present: (kind: ResourceKind, r: StoredResource, ctx: RenderContext, read: { attributes?: string[] | undefined; excludedAttributes?: string[] | undefined }) => Promise<Record<string, unknown>>;
}

export class ResourceLists {
  constructor(private readonly o: ListDeps) {}

  private get q() {
    return this.o.store.resources;
  }

  /** The page's resources as the wire shows them, one after the other (each may read its members). */
  private async presentAll(rows: { kind: ResourceKind; row: StoredResource }[], ctx: RenderContext, read: { attributes?: string[] | undefined; excludedAttributes?: string[] | undefined }) {
    const out: Record<string, unknown>[] = [];
    for (const { kind, row } of rows) out.push(await this.o.present(kind, row, ctx, read));
    return out;
  }

  private get limits(): ScimLimits {
    return this.o.paging.limits ?? DEFAULT_LIMITS;
  }

  /** A list of one resource type: index paging, or cursor paging when the request names a cursor. */
  async list(kind: ResourceKind, p: ListParams, ctx: RenderContext): Promise<ListResult> {
    if (p.cursor !== undefined) return this.cursorList([kind], endpointOf(kind), p, ctx);
    const query = { ...this.compileQuery(kind, p), descending: p.descending, offset: p.startIndex - 1, limit: p.count };
    let totalResults: number;
    let rows: StoredResource[];
    if (query.orderBy === undefined) {
      rows = await this.q.page(kind, query);
      // A first page with room to spare holds every match (a filter lookup, mostly): no COUNT(*).
      totalResults = query.offset === 0 && rows.length < query.limit ? rows.length : await this.q.count(kind, query.where);
    } else {
      // The count comes first: it decides whether the sort may run at all.
      totalResults = await this.q.count(kind, query.where);
      await this.checkSortCost(kind, p, query, totalResults);
      rows = await this.q.page(kind, query);
    }
    const read = { attributes: p.attributes, excludedAttributes: p.excludedAttributes };
    return {
      totalResults,
      startIndex: p.startIndex,
      itemsPerPage: rows.length,
      resources: await this.presentAll(rows.map((row) => ({ kind, row })), ctx, read),
    };
  }

  /**
   * A cursor page (RFC 9865) over `kinds` listed one after the other, for the endpoint named
   * `endpoint` (the cursor is bound to it). A resource type whose attributes cannot answer the
   * filter or sort is left out when another can (the root /.search, RFC 7644 §3.4.3).
   */
  async cursorList(kinds: readonly ResourceKind[], endpoint: string, p: ListParams, ctx: RenderContext): Promise<ListResult> {
    const queries = new Map<ResourceKind, { where?: SQL | undefined; orderBy?: SQL | undefined }>();
    let refused: unknown;
    for (const kind of kinds) {
      try {
        queries.set(kind, this.compileQuery(kind, p));
      } catch (e) {
        if (!(kinds.length > 1 && e instanceof ScimError && e.scimType === "invalidFilter")) throw e;
        refused = e;
      }
    }
    if (queries.size === 0) throw refused;
    const digest = queryDigest([endpoint, p.filter, p.sortBy, p.descending]);
    const nowSeconds = Math.floor(this.o.now().getTime() / 1000);
    const start = this.openCursor(p, digest, nowSeconds);
    let totalResults = 0;
    for (const [kind, query] of queries) {
      const total = await this.q.count(kind, query.where);
      await this.checkSortCost(kind, p, { ...query, descending: p.descending, offset: 0, limit: p.count }, total);
      totalResults += total;
    }
    const listed = [...queries.keys()];
    const read: KeysetRead = (kind, from, backward, limit) => this.q.keyset(kind, { ...queries.get(kind)!, descending: p.descending, from, backward, limit });
    const page = await cursorPage(listed, read, start.direction, start.at, p.count);
    const seal = (direction: "next" | "previous", at: CursorPosition | undefined) =>
      this.o.cursors.seal({ direction, at, query: digest, count: p.count, expires: nowSeconds + CURSOR_TIMEOUT_SECONDS });
    const attrs = { attributes: p.attributes, excludedAttributes: p.excludedAttributes };
    return {
      totalResults,
      itemsPerPage: page.rows.length,
      resources: await this.presentAll(page.rows, ctx, attrs),
      nextCursor: page.next === undefined ? undefined : seal("next", page.next === "start" ? undefined : page.next),
      previousCursor: page.previous === undefined ? undefined : seal("previous", page.previous),
    };
  }

  /** Where a cursor request starts: the first page for an empty cursor, else what the cursor holds. */
  private openCursor(p: ListParams, digest: string, nowSeconds: number): { direction: "next" | "previous"; at?: CursorPosition | undefined } {
    if (!p.cursor) return { direction: "next" };
    const opened = this.o.cursors.open(p.cursor, nowSeconds);
    // RFC 9865 §2.1 Table 3. The details stay generic (§5.2: the same answer whatever the cause).
    if (!opened.ok && opened.reason === "expired") {
      throw badRequest("expiredCursor", `the cursor has expired: cursors are valid for ${CURSOR_TIMEOUT_SECONDS} seconds (pagination.cursorTimeout); start again with an empty cursor`);
    }
    if (!opened.ok || opened.state.query !== digest) {
      throw badRequest("invalidCursor", "the cursor is not one this server issued for this query (endpoint, filter, sortBy and sortOrder must be those of the first request); use an empty cursor for the first page");
    }
    if (opened.state.count !== p.count) {
      throw badRequest("invalidCount", `count must stay that of the query the cursor was issued for (${opened.state.count}), at most scim.maxPageSize (${this.o.paging.maxPageSize})`);
    }
    return opened.state;
  }

  /** The filter and sort key of a list, in SQL; an unreadable filter or sort attribute is 400 invalidFilter. */
  private compileQuery(kind: ResourceKind, p: ListParams): { where?: SQL | undefined; orderBy?: SQL | undefined } {
    try {
      return {
        where: p.filter === undefined ? undefined : compileFilter(this.o.registry, kind, parseFilter(p.filter, { maxLength: this.limits.filterLength, maxDepth: this.limits.filterDepth }), this.o.store.filters),
        orderBy: p.sortBy === undefined ? undefined : compileSortKey(this.o.registry, kind, p.sortBy, this.o.store.filters),
      };
    } catch (e) {
      if (e instanceof FilterError) throw badRequest("invalidFilter", e.message);
      throw e;
    }
  }

  /**
   * A sort no index delivers is one synchronous SQLite sort of every match, on every page (index
   * or cursor): bounded, so one request cannot hold the event loop (RFC 7644 §3.12 tooMany: more
   * results than the server is willing to process).
   */
  private async checkSortCost(kind: ResourceKind, p: ListParams, query: ListQuery, totalResults: number): Promise<void> {
    if (query.orderBy === undefined || p.count <= 0 || totalResults <= this.limits.sortResources) return;
    if (!(await this.q.sortsEveryRow(kind, query))) return;
    throw badRequest("tooMany", `sorting ${totalResults} resources by ${p.sortBy} needs a sort of every one (no index orders that attribute); the limit is ${this.limits.sortResources} (scim.limits.sortResources): narrow the filter or sort by userName`);
  }
}
