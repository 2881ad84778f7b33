/**
 * What one delivery of a (resource, rule) row comes to. Deliveries return an Outcome; the
 * recorder (recorder.ts) writes it, with other deliveries' outcomes, in one commit. A delivery
 * never records anything itself, so nothing a delivery does is `in_sync` before its outcome is
 * durable.
 */
import type { StoreQueries } from "../../db/store.js";
import type { SyncStateRow } from "../../db/sync.js";

export type FinishedState = "in_sync" | "out_of_scope" | "remove" | "needs_password";

export type Outcome =
  /** The entry converged (or has nothing to converge): the row records what was written. */
  | {
      kind: "finished";
      /** needs_password: the entry had to be added again and the password it had is gone. */
      state: FinishedState;
      /** What the entry now holds (the planner's record); undefined keeps the stored one. */
      written?: unknown;
      dn?: string | undefined;
      directoryId?: string | undefined;
      /** The sealed password the row carried was delivered (or has nowhere to go): erase it. */
      deliveredSecret?: boolean;
      /** When the delivery started (the row's last attempt). */
      at?: string;
      /** More work is queued for this row (a large membership change): deliver again. */
      more?: boolean;
      /**
       * Further writes that must commit with the outcome (member pairs settled, groups refreshed),
       * made through the outcome's transaction; they await nothing but its queries.
       */
      also?: (tx: StoreQueries) => Promise<void>;
    }
  /** The delivery failed: retried with backoff when transient, parked as failed after maxAttempts. */
  | { kind: "failed"; error: unknown; at: string }
  /**
   * The row's entry would take a DN another resource's entry holds while that one's delivery is
   * under way: the row waits for the holder's outcome (dn-claims.ts).
   */
  | { kind: "waiting"; holder: SyncStateRow; dn: string; at: string }
  /**
   * The row cannot go on yet for a reason of its own (a user entry waiting for its groups to drop
   * it before it is deleted): it is retried at `retryAt` with one more attempt. `also` runs in the
   * outcome's transaction and says whether the reason still holds (if not, the row is due again now).
   */
  | { kind: "parked"; retryAt: Date; reason: string; at: string; also: (tx: StoreQueries) => Promise<boolean> };

/** How a delivery ended, as metrics count it. */
export type DeliveryResult = "success" | "transient_failure" | "permanent_failure";
