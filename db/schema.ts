/**
 * The SQLite schema (drizzle). The SCIM store is the source of truth (design.md, decision 1):
 * each resource keeps its client-written attributes as JSON plus indexed key columns for the
 * attributes clients filter on, so lists are answered in SQL (decision 5). Group membership has
 * its own table so one member is one row (decision 4). `changes` is the outbox: every write
 * commits its change row in the same transaction (decision 2).
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable(
  "users",
  {
    /** Stable insertion order: the default sort, so paging is deterministic (Okta requires it). */
    seq: integer("seq").primaryKey(),
    id: text("id").notNull(),
    userName: text("user_name").notNull(),
    /** userName folded for caseExact=false comparison and uniqueness (RFC 7643 §4.1.1). */
    userNameKey: text("user_name_key").notNull(),
    externalId: text("external_id"),
    displayNameKey: text("display_name_key"),
    active: integer("active", { mode: "boolean" }),
    /** Client-written attributes in wire shape, without id/meta/groups/password. */
    data: text("data").notNull(),
    created: text("created").notNull(),
    lastModified: text("last_modified").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [
    uniqueIndex("users_id").on(t.id),
    uniqueIndex("users_user_name_key").on(t.userNameKey),
    index("users_external_id").on(t.externalId),
    index("users_active").on(t.active),
    index("users_last_modified").on(t.lastModified),
    // The sort keys a list may order by (RFC 7644 §3.4.2.3) each have an index, so a page, index
    // or cursor, walks the index rather than sorting every match; SQLite appends the rowid (seq)
    // to each entry, the tie-breaker of every order (db/list-order.ts).
    index("users_display_name_key").on(t.displayNameKey),
    index("users_created").on(t.created),
    // seq alone: the smallest index in seq order, so a deep index page (OFFSET) skips entries of
    // this covering index instead of reading and discarding whole rows.
    index("users_seq").on(t.seq),
  ],
);

/** One row per email value, so `emails.value eq x` and `emails eq x` are index lookups. */
export const userEmails = sqliteTable(
  "user_emails",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    value: text("value"),
    valueKey: text("value_key"),
    type: text("type"),
    primary: integer("primary", { mode: "boolean" }),
  },
  (t) => [primaryKey({ columns: [t.userId, t.position] }), index("user_emails_value_key").on(t.valueKey)],
);

export const groups = sqliteTable(
  "groups",
  {
    seq: integer("seq").primaryKey(),
    id: text("id").notNull(),
    displayName: text("display_name").notNull(),
    /** displayName folded: unique case-insensitively (Entra requires unique displayName). */
    displayNameKey: text("display_name_key").notNull(),
    externalId: text("external_id"),
    data: text("data").notNull(),
    created: text("created").notNull(),
    lastModified: text("last_modified").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [
    uniqueIndex("groups_id").on(t.id),
    uniqueIndex("groups_display_name_key").on(t.displayNameKey),
    index("groups_external_id").on(t.externalId),
    index("groups_last_modified").on(t.lastModified),
    index("groups_created").on(t.created),
    index("groups_seq").on(t.seq),
  ],
);

export const groupMembers = sqliteTable(
  "group_members",
  {
    groupId: text("group_id")
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
    memberId: text("member_id").notNull(),
    /** "User" or "Group" (RFC 7643 §4.2 members.type). */
    memberType: text("member_type").notNull(),
    /**
     * members.display (RFC 7643 §4.2, readOnly): the member's displayName, else a user's userName.
     * Kept with the row (written when the member is added, rewritten when the member's name
     * changes), so listing a group's members reads this table only, not every member's record.
     */
    display: text("display"),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.memberId] }), index("group_members_member").on(t.memberId)],
);

/** Bearer tokens for SCIM clients: only a keyed hash of the secret is kept (server/auth/tokens.ts). */
export const tokens = sqliteTable(
  "tokens",
  {
    name: text("name").primaryKey(),
    hash: text("hash").notNull(),
    /** At most 4 characters of the token (after `scb_`), shown in `token list` to tell tokens apart. */
    hint: text("hint").notNull(),
    created: text("created").notNull(),
    lastUsed: text("last_used"),
  },
);

/**
 * The outbox: one row per committed SCIM change, written in the same transaction as the change.
 * `before`/`after` are the resource's stored attributes (JSON) around the change; member deltas
 * travel as lists of ids, never as the whole membership.
 */
export const changes = sqliteTable(
  "changes",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    /** create | update | delete, or resync (an operator asked to deliver the resource again) */
    op: text("op").notNull(),
    version: integer("version").notNull(),
    at: text("at").notNull(),
    client: text("client"),
    before: text("before"),
    after: text("after"),
    membersAdded: text("members_added"),
    membersRemoved: text("members_removed"),
    /**
     * Whether the fan-out has turned this change into pending sync state. A flag per row, not a
     * position: on PostgreSQL seq values are taken at insert and committed in any order, so a
     * position could pass a row that commits late and never see it (replicas-design.md 4.3).
     */
    fannedOut: integer("fanned_out", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [index("changes_resource").on(t.resourceType, t.resourceId, t.seq), index("changes_unfanned").on(t.seq).where(sql`${t.fannedOut} = 0`)],
);


/**
 * Delivery state per (resource, rule): where the resource stands in that rule's directory, what was
 * last written there (the planner diffs against it), and the correlation (DN and the directory's
 * own id, design.md decision 7). Level-triggered: a change marks the row pending up to `wantedSeq`;
 * delivery converges the entry to the resource's current state, so pending changes coalesce.
 */
export const syncState = sqliteTable(
  "sync_state",
  {
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    rule: text("rule").notNull(),
    target: text("target").notNull(),
    /** pending | retrying | in_sync | failed | out_of_scope */
    state: text("state").notNull(),
    wantedSeq: integer("wanted_seq").notNull(),
    deliveredSeq: integer("delivered_seq").notNull().default(0),
    dn: text("dn"),
    /**
     * The DN normalised (normalizeDn in hooks/ldap/dn.ts): which resource holds, or is about to
     * hold, a DN of a target, so a new resource never takes over an entry another one still owns.
     */
    dnKey: text("dn_key"),
    directoryId: text("directory_id"),
    /** JSON: the attributes last written, and the entry's active state. */
    written: text("written"),
    attempts: integer("attempts").notNull().default(0),
    lastAttempt: text("last_attempt"),
    nextAttempt: text("next_attempt"),
    lastCode: integer("last_code"),
    lastError: text("last_error"),
    /** A SCIM password sealed with AES-256-GCM until this rule has delivered it, then erased. */
    secret: text("secret"),
    /**
     * "<type>:<id>" of the resource whose entry must leave this row's DN first (a deleted user's
     * entry at the DN a re-created user maps to): its removal makes this row pending again.
     */
    waitingFor: text("waiting_for"),
    updated: text("updated").notNull(),
    /**
     * The delivery lease (hooks/delivery/scheduler.ts): which worker took the row for delivery
     * (a per-process id), until when (ISO time; renewed while it holds it), and the claim's
     * fencing token. An outcome is recorded only while the row still bears the token its delivery
     * was claimed with, so a worker whose lease expired and was taken over cannot overwrite the
     * new holder's result. NULL: nobody delivers the row now.
     */
    leaseOwner: text("lease_owner"),
    leaseUntil: text("lease_until"),
    leaseToken: integer("lease_token"),
  },
  (t) => [
    primaryKey({ columns: [t.resourceType, t.resourceId, t.rule] }),
    // Pending rows are taken oldest change first; retrying rows when their time has come.
    index("sync_state_pending").on(t.state, t.wantedSeq),
    index("sync_state_due").on(t.state, t.nextAttempt),
    index("sync_state_rule").on(t.rule),
    index("sync_state_dn_key").on(t.target, t.dnKey),
    index("sync_state_waiting_for").on(t.waitingFor),
    // Few rows are leased at a time: the heartbeat and the release find a worker's own quickly.
    index("sync_state_lease_owner").on(t.leaseOwner).where(sql`${t.leaseOwner} IS NOT NULL`),
  ],
);

/**
 * Provenance of entries a rule wrote and no longer tracks: a sync_state row holding a DN was
 * removed while its entry stayed in the directory (a rule removed with onRuleRemoved none or
 * disable). Reconcile deletes an entry only when this rule wrote it: its current correlation
 * (sync_state) or one of these, matched by DN and the directory's own id (entryUUID, objectGUID),
 * so an entry made later at the same DN by someone else is never taken for ours.
 */
export const entryTombstones = sqliteTable(
  "entry_tombstones",
  {
    rule: text("rule").notNull(),
    target: text("target").notNull(),
    /** The DN normalised (normalizeDn in hooks/ldap/dn.ts), as sync_state.dn_key. */
    dnKey: text("dn_key").notNull(),
    dn: text("dn").notNull(),
    directoryId: text("directory_id").notNull(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    at: text("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.rule, t.target, t.dnKey, t.directoryId] }), index("entry_tombstones_dn_key").on(t.target, t.dnKey)],
);

/**
 * Membership delivery per (group rule, group, member) (issue 5): which member DN that rule last
 * wrote into the group's member attribute, and whether the pair needs another look. Level-
 * triggered like sync_state: the truth is group_members; an outbox delta (or a member's DN
 * changing) only marks the pair dirty, and the group's delivery converges it with one single-value
 * modify. `dirty` is a generation counter, not a flag: a delivery clears only the generation it
 * read, so a mark made while it ran is never lost. `evict` asks for the value to go even though
 * the member is still in the SCIM group (its entry is about to be deleted from the directory).
 */
export const groupMemberSync = sqliteTable(
  "group_member_sync",
  {
    rule: text("rule").notNull(),
    groupId: text("group_id").notNull(),
    memberId: text("member_id").notNull(),
    /** Member DN as written to the group by this rule; null = not (yet) written. */
    dn: text("dn"),
    dirty: integer("dirty").notNull().default(0),
    evict: integer("evict").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.rule, t.groupId, t.memberId] }),
    index("group_member_sync_dirty").on(t.rule, t.groupId, t.dirty),
    index("group_member_sync_member").on(t.memberId),
  ],
);

/** A SCIM password between its write and the fan-out to rules: sealed, never in clear. */
export const pendingSecrets = sqliteTable("pending_secrets", {
  userId: text("user_id").primaryKey(),
  sealed: text("sealed").notNull(),
  at: text("at").notNull(),
});

/** How far the delivery worker has fanned the outbox out into sync_state. */
/** The rules as last configured, so a rule removed from the config can still be deprovisioned. */
export const knownRules = sqliteTable("known_rules", {
  name: text("name").primaryKey(),
  kind: text("kind").notNull(),
  target: text("target").notNull(),
  /** JSON of the rule's config when last seen (no secrets: rules hold none). */
  config: text("config").notNull(),
  lastSeen: text("last_seen").notNull(),
});

/**
 * The audit log (issue 6): every SCIM write (kind "scim": client, HTTP method, resource, status
 * code) and every LDAP write (kind "ldap": target, DN, operation, "success" or "error" with the
 * result code in detail). Pruned after `audit.retentionDays`; exported as JSON lines.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    at: text("at").notNull(),
    /** scim | ldap */
    kind: text("kind").notNull(),
    client: text("client"),
    /** HTTP method (scim) or LDAP operation: add, modify, modifyDN, delete, setBits (ldap). */
    operation: text("operation").notNull(),
    resourceType: text("resource_type"),
    resourceId: text("resource_id"),
    target: text("target"),
    dn: text("dn"),
    /** HTTP status code (scim) or success | error (ldap). */
    outcome: text("outcome").notNull(),
    /** Request id and path (scim), or the LDAP result code and message of a failure (ldap). */
    detail: text("detail"),
  },
  (t) => [
    index("audit_log_at").on(t.at),
    index("audit_log_kind_seq").on(t.kind, t.seq),
    // One resource's history (the admin page's detail, GET /admin/api/audit?type=&id=).
    index("audit_log_resource").on(t.resourceType, t.resourceId, t.seq),
  ],
);
