/**
 * Which resource holds a DN (design.md decision 7: correlation by SCIM id and the directory's own
 * id). Two resources can map to one DN: a user deleted and created again under the same userName,
 * a group renamed away from a name another group takes. Each resource owns its own entry: one
 * that would take a DN another resource still holds waits for it to leave, or fails naming it,
 * and is never handed the other's entry (an add that meets an existing entry merges into it,
 * hooks/ldap/executor.ts, which is right only for an entry of its own).
 */
import type { SyncStateRow } from "../../db/sync.js";
import type { ResourceKind } from "../../schemas/registry.js";
import { dnKey } from "../ldap/dn.js";
import { LdapDeliveryError, readEntry } from "../ldap/executor.js";
import type { DeliveryContext } from "./context.js";
import { DIRECTORY_ID_ATTRIBUTES, directoryIdOf } from "./entry-ownership.js";
import type { Outcome } from "./outcome.js";

/**
 * Records that the row's entry is (about to be) at `dn`, unless another resource holds that DN
 * on the same target; the claim is durable before the caller writes the entry. A holder whose
 * delivery is under way (a deleted user whose entry waits for its groups, then is deleted) is
 * waited for: the outcome is `waiting`, and the holder's outcome wakes the row. A settled holder
 * keeps the DN (an entry kept by a disable or none deprovision action): a permanent failure that
 * names it, until its entry is gone from the directory, when the stale claim is dropped and the
 * row goes on. Returns true when the row may go on, else the outcome to record.
 */
export async function claimDn(ctx: DeliveryContext, row: SyncStateRow, dn: string, at: string): Promise<true | Outcome> {
  const key = dnKey(dn);
  if (row.dnKey === key) return true;
  // Looked up and claimed in one write: two deliveries claiming one DN in the same turn see each other.
  const claim = () =>
    ctx.commit(async (tx) => {
      const holder = await tx.sync.dnHolder(row.target, key, row.resourceType, row.resourceId);
      if (!holder) await tx.sync.update(row.resourceType, row.resourceId, row.rule, { dnKey: key });
      return holder;
    });
  const holder = await claim();
  if (!holder) return true;
  if (holder.state === "pending" || holder.state === "retrying") return { kind: "waiting", holder, dn, at };
  const target = ctx.targets.get(row.target)!;
  const there = await readEntry(target.connection, dn, [...DIRECTORY_ID_ATTRIBUTES]);
  const id = there && directoryIdOf(there);
  if (there && (holder.directoryId === null || id === holder.directoryId)) {
    const scim = holder.resourceType === "User" || holder.resourceType === "Group";
    const deleted = scim && (await ctx.read(holder.resourceType as ResourceKind, holder.resourceId, { members: false })) === undefined;
    throw new LdapDeliveryError(
      `${dn} is held by ${deleted ? "deleted " : ""}${holder.resourceType} ${holder.resourceId} (rule ${holder.rule}${deleted ? ", whose deprovision action kept the entry" : ""}); ` +
        "this resource gets its own entry once that one is deleted from the directory",
      { transient: false, opIndex: -1 },
    );
  }
  // The holder's entry is gone (deleted by hand) or replaced: its claim is stale.
  await ctx.commit((tx) => tx.sync.update(holder.resourceType, holder.resourceId, holder.rule, { dnKey: null, updated: at }));
  const next = await claim();
  return next ? { kind: "waiting", holder: next, dn, at } : true;
}
