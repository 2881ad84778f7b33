/**
 * The SCIM resource service: what a route asks for, with no request or response in sight.
 * Each write is one store transaction holding the resource, its membership rows and its outbox
 * row, so concurrent writes to one resource serialize and nothing is half-written.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { CursorCodec } from "../../db/cursor.js";
import { isUniqueViolation } from "../../db/constraint-errors.js";
import type { ResourceQueries, StoredResource } from "../../db/resources.js";
import type { ResourceStore, Store } from "../../db/store.js";
import { coerceInput } from "../../schemas/coerce.js";
import { badRequest, conflict, notFound, ScimError } from "../../schemas/errors.js";
import { matchElement } from "../../schemas/filter/match.js";
import { checkValueLimits, DEFAULT_LIMITS, type ScimLimits } from "../../schemas/limits.js";
import { applyPatch, type MemberOp, type MemberRef } from "../../schemas/patch.js";
import { normaliseMultiValuedForOutput, projectResource } from "../../schemas/project.js";
import type { ResourceKind, SchemaRegistry } from "../../schemas/registry.js";
import type { ListParams, PagingLimits } from "./list-params.js";
import { etagOf, renderResource, type Derived, type RenderContext } from "../../schemas/render.js";
import { ResourceLists, type ListResult } from "./lists.js";

export { CURSOR_TIMEOUT_SECONDS, type ListResult } from "./lists.js";

export interface RequestContext extends RenderContext {
  /** Authenticated client name (audit and outbox). */
  client?: string | undefined;
  /**
   * attributes/excludedAttributes for the resource a write returns (RFC 7644 §3.9); "none" when
   * the client asked for no body (a large group's members are then never loaded).
   */
  read?: ReadOptions | "none" | undefined;
}

export interface ReadOptions {
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

/** A resource as the wire shows it: rendered, multi-valued attributes normalised, projected. */
function renderPresented(registry: SchemaRegistry, kind: ResourceKind, r: StoredResource, ctx: RenderContext, read: ReadOptions, derived: Derived) {
  return projectResource(registry, kind, normaliseMultiValuedForOutput(registry, kind, renderResource(registry, kind, r, ctx, derived)), read);
}

export interface WriteResult {
  id: string;
  /** The response body. */
  resource: Record<string, unknown>;
  etag: string;
  /** False when the write asserted what was already stored: no new version, no outbox row. */
  changed: boolean;
}

/**
 * What the consumer of the outbox (the delivery worker) is told of each write: a password, which
 * it seals before it touches disk, inside the write's transaction; and the commit, after which the
 * write's outbox row can be fanned out. The outbox row itself is written by the service.
 */
export interface WriteListener {
  passwordSet(userId: string, password: string): Promise<void>;
  committed(): void;
}

export interface ServiceDeps {
  store: Store;
  registry: SchemaRegistry;
  paging: PagingLimits;
  /** Told of each write (the delivery worker); none: writes only land in the store and the outbox. */
  writes?: WriteListener | undefined;
  now?: () => Date;
  /**
   * The server's secret key (server/secret-key.ts): list cursors are MACed under a key derived from
   * it (db/cursor.ts). Without it a random key is used, and cursors do not outlive the process.
   */
  secretKey?: Buffer | undefined;
}

const memberAttr = (kind: ResourceKind) => (kind === "User" ? "groups" : "members");

/** Whether a read needs a derived attribute (`groups`/`members`), so it is never loaded for nothing. */
function wants(name: string, read: ReadOptions): boolean {
  const top = (p: string) => p.split(":").pop()!.split(".")[0]!.toLowerCase();
  if (read.attributes) return read.attributes.some((a) => top(a) === name.toLowerCase());
  return !(read.excludedAttributes ?? []).some((a) => top(a) === name.toLowerCase());
}

export class ResourceService {
  private readonly now: () => Date;

  private readonly lists: ResourceLists;

  constructor(private readonly deps: ServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.lists = new ResourceLists({
      store: deps.store,
      registry: deps.registry,
      paging: deps.paging,
      now: this.now,
      cursors: new CursorCodec(deps.secretKey ?? randomBytes(32)),
      present: (kind, r, ctx, read) => this.present(kind, r, ctx, read),
    });
  }

  /** The store's resources: the open transaction's inside one (db/store.ts), else the last committed state. */
  private get q(): ResourceStore {
    return this.deps.store.resources;
  }

  private get limits(): ScimLimits {
    return this.deps.paging.limits ?? DEFAULT_LIMITS;
  }

  get registry(): SchemaRegistry {
    return this.deps.registry;
  }

  // ---- reads ----

  /** A list of one resource type: index paging, or cursor paging when the request names a cursor (lists.ts). */
  list(kind: ResourceKind, p: ListParams, ctx: RequestContext): Promise<ListResult> {
    return this.lists.list(kind, p, ctx);
  }

  /** A cursor page over `kinds` listed one after the other, for the endpoint named `endpoint` (lists.ts). */
  cursorList(kinds: readonly ResourceKind[], endpoint: string, p: ListParams, ctx: RequestContext): Promise<ListResult> {
    return this.lists.cursorList(kinds, endpoint, p, ctx);
  }

  async get(kind: ResourceKind, id: string, ctx: RequestContext, read: ReadOptions = {}): Promise<WriteResult> {
    const r = await this.q.get(kind, id);
    if (!r) throw notFound(`${kind} ${id} not found`);
    return { id: r.id, resource: await this.present(kind, r, ctx, read), etag: etagOf(r.version), changed: false };
  }

  /** Current ETag, for If-None-Match and If-Match checks without rendering. */
  async etag(kind: ResourceKind, id: string): Promise<string | undefined> {
    const r = await this.q.get(kind, id);
    return r ? etagOf(r.version) : undefined;
  }

  /** A write's result: the body rendered from what the write committed (none when the client asked for none). */
  private async respond(kind: ResourceKind, r: StoredResource, ctx: RequestContext, changed: boolean): Promise<WriteResult> {
    const etag = etagOf(r.version);
    if (ctx.read === "none") return { id: r.id, resource: { id: r.id }, etag, changed };
    return { id: r.id, resource: await this.present(kind, r, ctx, ctx.read ?? {}), etag, changed };
  }

  private async derived(kind: ResourceKind, id: string, read: ReadOptions): Promise<Derived> {
    return kind === "User"
      ? { groups: wants("groups", read) ? await this.q.groupsOf(id) : undefined }
      : { members: wants("members", read) ? await this.q.members(id) : undefined };
  }

  private async present(kind: ResourceKind, r: StoredResource, ctx: RenderContext, read: ReadOptions) {
    return renderPresented(this.registry, kind, r, ctx, read, await this.derived(kind, r.id, read));
  }

  // ---- writes ----

  async create(kind: ResourceKind, body: unknown, ctx: RequestContext): Promise<WriteResult> {
    const input = coerceInput(this.registry, kind, body, "create");
    checkValueLimits(input.attributes, this.limits, input.password);
    const at = this.now().toISOString();
    const r: StoredResource = { id: randomUUID(), attributes: input.attributes, created: at, lastModified: at, version: 1 };
    await this.transaction(async () => {
      await this.insertUnique(kind, r);
      const added = kind === "Group" ? await this.applyMemberOps(r.id, [{ op: "add", members: input.members ?? [] }]) : undefined;
      if (input.password !== undefined) await this.deps.writes?.passwordSet(r.id, input.password);
      await this.record({ kind, id: r.id, op: "create", version: 1, at, client: ctx.client, after: r.attributes, membersAdded: added?.added });
    });
    return this.respond(kind, r, ctx, true);
  }

  replace(kind: ResourceKind, id: string, body: unknown, ctx: RequestContext, ifMatch?: string): Promise<WriteResult> {
    const input = coerceInput(this.registry, kind, body, "replace");
    checkValueLimits(input.attributes, this.limits, input.password);
    // RFC 7644 §3.5.1 lets a server keep omitted attributes; a PUT without `members` does not
    // assert membership, so it keeps the members (PingFederate always sends the full list).
    const memberOps: MemberOp[] = input.members === undefined ? [] : [{ op: "removeAll" }, { op: "add", members: input.members }];
    return this.write(kind, id, ctx, ifMatch, () => ({ attributes: input.attributes, password: input.password, memberOps }));
  }

  patch(kind: ResourceKind, id: string, body: unknown, ctx: RequestContext, ifMatch?: string): Promise<WriteResult> {
    return this.write(kind, id, ctx, ifMatch, (current) => {
      const result = applyPatch(this.registry, kind, current.attributes, body, { maxOperations: this.limits.patchOperations, filterDepth: this.limits.filterDepth });
      // The patched resource must still be a valid resource: same checks as a PUT.
      const input = coerceInput(this.registry, kind, { ...result.attributes, schemas: undefined }, "replace");
      checkValueLimits(input.attributes, this.limits, result.password);
      return { attributes: input.attributes, password: result.password, memberOps: result.memberOps };
    });
  }

  async remove(kind: ResourceKind, id: string, ctx: RequestContext, ifMatch?: string): Promise<void> {
    await this.transaction(async () => {
      const current = await this.q.lockForWrite(kind, id);
      if (!current) throw notFound(`${kind} ${id} not found`);
      this.checkIfMatch(current, ifMatch);
      // A deleted group's members leave it: the delta lets rules that select users by group
      // membership (issue 5) see every member's `groups` change.
      const membersRemoved = kind === "Group" ? (await this.q.memberIds(id)).map((m) => m.id) : undefined;
      await this.q.delete(kind, id);
      await this.record({ kind, id, op: "delete", version: current.version + 1, at: this.now().toISOString(), client: ctx.client, before: current.attributes, membersRemoved });
    });
  }

  /** Read, compute, write and record in one transaction: a concurrent write cannot interleave. */
  private async write(
    kind: ResourceKind,
    id: string,
    ctx: RequestContext,
    ifMatch: string | undefined,
    compute: (current: StoredResource) => { attributes: Record<string, unknown>; password?: string | undefined; memberOps: MemberOp[] },
  ): Promise<WriteResult> {
    const outcome = await this.transaction(async () => {
      // Locked: a write to the same resource through another replica waits for this one, so
      // neither loses the other's change and If-Match compares with what is really current.
      const current = await this.q.lockForWrite(kind, id);
      if (!current) throw notFound(`${kind} ${id} not found`);
      this.checkIfMatch(current, ifMatch);
      const next = compute(current);
      const delta = kind === "Group" ? await this.applyMemberOps(id, next.memberOps) : { added: [], removed: [] };
      const attrsChanged = !isDeepStrictEqual(current.attributes, next.attributes);
      const changed = attrsChanged || delta.added.length > 0 || delta.removed.length > 0 || next.password !== undefined;
      if (!changed) return { r: current, changed };
      const at = this.now().toISOString();
      const r: StoredResource = { ...current, attributes: next.attributes, lastModified: at, version: current.version + 1 };
      // Members or a password alone: only version and lastModified move (RFC 7643 §3.1), and the
      // stored attributes are not written again.
      if (attrsChanged) await this.updateUnique(kind, r);
      else await this.q.touch(kind, id, at);
      if (next.password !== undefined) await this.deps.writes?.passwordSet(id, next.password);
      await this.record({
        kind, id, op: "update", version: r.version, at, client: ctx.client,
        before: current.attributes, after: r.attributes, membersAdded: delta.added, membersRemoved: delta.removed,
      });
      return { r, changed };
    });
    return this.respond(kind, outcome.r, ctx, outcome.changed);
  }

  private checkIfMatch(current: StoredResource, ifMatch: string | undefined): void {
    if (ifMatch === undefined) return;
    // RFC 7232 §3.1: `*` matches any current representation; otherwise a list of entity tags.
    const tags = ifMatch.split(",").map((t) => t.trim().replace(/^W\//, ""));
    if (tags.includes("*") || tags.includes(etagOf(current.version))) return;
    throw new ScimError(412, undefined, `version mismatch: current is ${etagOf(current.version)}`);
  }

  private async record(c: Parameters<ResourceQueries["recordChange"]>[0]): Promise<void> {
    await this.q.recordChange(c);
  }

  /** The store's transaction, with storage faults and the commit reported. */
  private async transaction<T>(fn: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.deps.store.transaction(fn);
    } catch (e) {
      // A full or read-only disk: the write was rolled back; the boundary answers 503 and
      // /readyz shows the fault until a write goes through again (db/storage-faults.ts).
      this.deps.store.health.note(e, "scim");
      throw e;
    }
    this.deps.store.health.ok();
    this.deps.writes?.committed();
    return result;
  }

  private async insertUnique(kind: ResourceKind, r: StoredResource): Promise<void> {
    try {
      await this.q.insert(kind, r);
    } catch (e) {
      if (isUniqueViolation(e)) throw this.uniquenessError(kind, r);
      throw e;
    }
  }

  private async updateUnique(kind: ResourceKind, r: StoredResource): Promise<void> {
    try {
      await this.q.update(kind, r);
    } catch (e) {
      if (isUniqueViolation(e)) throw this.uniquenessError(kind, r);
      throw e;
    }
  }

  private uniquenessError(kind: ResourceKind, r: StoredResource): ScimError {
    return kind === "User"
      ? conflict(`userName ${JSON.stringify(r.attributes.userName)} is already taken (compared case-insensitively)`)
      : conflict(`displayName ${JSON.stringify(r.attributes.displayName)} is already taken (compared case-insensitively)`);
  }

  /** Membership operations as deltas on the membership table (design.md decision 4). */
  private async applyMemberOps(groupId: string, ops: MemberOp[]): Promise<{ added: string[]; removed: string[] }> {
    const added = new Set<string>();
    const removed = new Set<string>();
    const note = (a: string[], r: string[]) => {
      // An id added then removed within one request nets to nothing, and vice versa.
      for (const id of a) if (!removed.delete(id)) added.add(id);
      for (const id of r) if (!added.delete(id)) removed.add(id);
    };
    for (const op of ops) {
      if (op.op === "add") {
        note(await this.q.addMembers(groupId, await this.validateMembers(groupId, op.members)), []);
      } else if (op.op === "remove") {
        note([], await this.q.removeMembers(groupId, op.ids));
      } else if (op.op === "removeAll") {
        note([], await this.q.removeMembers(groupId, (await this.q.memberIds(groupId)).map((m) => m.id)));
      } else {
        const attr = this.registry.resolve("Group", memberAttr("Group"))!.attr;
        const hit = (await this.q.members(groupId)).filter((m) => matchElement(m, op.filter, attr)).map((m) => m.value);
        note([], await this.q.removeMembers(groupId, hit));
      }
    }
    return { added: [...added], removed: [...removed] };
  }

  /** Members must be existing Users or Groups (RFC 7643 §4.2); a group cannot contain itself. */
  private async validateMembers(groupId: string, refs: MemberRef[]): Promise<{ id: string; type: "User" | "Group" }[]> {
    const ids = [...new Set(refs.map((m) => m.value))];
    const types = await this.q.resolveMemberTypes(ids);
    const missing = ids.filter((id) => !types.has(id));
    if (missing.length) {
      const shown = missing.slice(0, 5).join(", ") + (missing.length > 5 ? `, and ${missing.length - 5} more` : "");
      throw badRequest("invalidValue", `members must be existing Users or Groups; not found: ${shown}`);
    }
    if (ids.includes(groupId)) throw badRequest("invalidValue", "a group cannot be a member of itself");
    return ids.map((id) => ({ id, type: types.get(id)! }));
  }
}
