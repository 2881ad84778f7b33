/**
 * Deliveries of Entry rows (ENTRY_KIND): the delete of an unmanaged entry an operator asked
 * reconcile for (`--delete-unmanaged`). It runs in the worker like any delivery, so it is ordered,
 * retried and audited like one. The entry is deleted only while it is still the one reconcile read:
 * the same DN and directory id (an entry made there since is someone else's).
 */
import { dnKey } from "../ldap/dn.js";
import type { SyncStateRow } from "../../db/sync.js";
import { LdapDeliveryError, readEntry } from "../ldap/executor.js";
import type { LdapOp } from "../planning/ops.js";
import type { DeliveryContext } from "./context.js";
import { DIRECTORY_ID_ATTRIBUTES, directoryIdOf } from "./entry-ownership.js";
import type { Outcome } from "./outcome.js";
import { executeReported, runDelivery } from "./template.js";

export function deliverEntry(ctx: DeliveryContext, row: SyncStateRow): Promise<Outcome> {
  const target = ctx.targets.get(row.target)!;
  const dn = row.dn ?? row.resourceId;
  const started = ctx.now().toISOString();
  return runDelivery(started, {
    // Always a delete of an entry reconcile found: there is always something to undo.
    event: "delete",
    written: dn,
    nothingToUndo: () => ({ kind: "finished", state: "remove" }),
    async converge(): Promise<Outcome> {
      const found = await readEntry(target.connection, dn, [...DIRECTORY_ID_ATTRIBUTES]);
      const id = found && directoryIdOf(found);
      if (found && row.directoryId !== null && id !== row.directoryId) {
        throw new LdapDeliveryError(`${dn} is no longer the entry reconcile found (directory id ${row.directoryId}, now ${id ?? "none"}); not deleted`, { transient: false, opIndex: -1 });
      }
      if (found) {
        const ops: LdapOp[] = [{ kind: "delete", dn }];
        await executeReported(ctx, row, target, ops, { createIfMissing: false });
      }
      // Gone: no rule's tombstone can name it any more.
      return {
        kind: "finished",
        state: "remove",
        also: async (tx) => {
          if (row.directoryId !== null) await tx.tombstones.forget(row.target, dnKey(dn), row.directoryId);
        },
      };
    },
  });
}
