/**
 * Deliveries of Entry rows (ENTRY_KIND): the delete of an unmanaged entry an operator asked
 * reconcile for (`--delete-unmanaged`). It runs in the worker like any delivery, so it is ordered,
 * retried and audited (reportLdapWrites) like one. The entry is deleted only while it is still the
 * one reconcile read: the same DN and directory id (an entry made there since is someone else's).
 */
import { dnKey } from "../ldap/dn.js";
import type { SyncStateRow } from "../../db/sync.js";
import { forgetTombstones } from "../../db/tombstones.js";
import { DIRECTORY_ID_ATTRIBUTES, directoryIdOf } from "./entry-ownership.js";
import type { WorkerServices } from "./group-delivery.js";
import { executeOps, LdapDeliveryError, readEntry } from "../ldap/executor.js";
import type { LdapOp } from "../planning/ops.js";

type Services = Pick<WorkerServices, "options" | "now" | "finish" | "fail" | "reportLdapWrites" | "reportDelivery">;

export class EntryDelivery {
  constructor(private readonly w: Services) {}

  async deliver(row: SyncStateRow): Promise<void> {
    const target = this.w.options.targets.get(row.target)!;
    const started = this.w.now().toISOString();
    const t0 = performance.now();
    const dn = row.dn ?? row.resourceId;
    try {
      const found = await readEntry(target.connection, dn, [...DIRECTORY_ID_ATTRIBUTES]);
      const id = found && directoryIdOf(found);
      if (found && row.directoryId !== null && id !== row.directoryId) {
        throw new LdapDeliveryError(`${dn} is no longer the entry reconcile found (directory id ${row.directoryId}, now ${id ?? "none"}); not deleted`, { transient: false, opIndex: -1 });
      }
      if (found) {
        const ops: LdapOp[] = [{ kind: "delete", dn }];
        await executeOps(target.connection, ops, { createIfMissing: false }).catch((e: unknown) => {
          this.w.reportLdapWrites(row, ops, e);
          throw e;
        });
        this.w.reportLdapWrites(row, ops);
      }
      // Gone: no rule's tombstone can name it any more.
      this.w.finish(row, { state: "remove" }, () => {
        if (row.directoryId !== null) forgetTombstones(this.w.options.store.sqlite, row.target, dnKey(dn), row.directoryId);
      });
      this.w.reportDelivery(row.target, "success", t0);
    } catch (e) {
      this.w.fail(row, e, started);
      this.w.reportDelivery(row.target, e instanceof LdapDeliveryError && e.transient ? "transient_failure" : "permanent_failure", t0);
    }
  }
}
