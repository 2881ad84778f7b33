/**
 * The PostgreSQL schema (drizzle pg-core): the same tables, columns (SQL names and TypeScript
 * keys), primary keys, foreign keys and indexes as the SQLite schema in db/schema.ts, so one set of
 * names serves both engines; test/db/schema-parity.test.ts holds the two together. Read
 * db/schema.ts for what each table and column means; only the engine-specific choices are
 * explained here:
 *
 * - SQLite's 64-bit `integer` becomes `bigint` (number mode: JavaScript numbers, as with SQLite)
 *   where a value counts without bound: every seq, the outbox positions that refer to one
 *   (wanted_seq, delivered_seq) and the dirty generation counter. Small
 *   counts (version, attempts, position, a result code, the evict flag) stay `integer`.
 * - A seq SQLite assigns itself (a rowid, or AUTOINCREMENT) is `generated always as identity`:
 *   the database assigns it and an insert cannot supply one by mistake (CREATE TABLE, "GENERATED
 *   ALWAYS AS IDENTITY", https://www.postgresql.org/docs/15/sql-createtable.html).
 * - Timestamps stay ISO-8601 `text`, as in SQLite: the code orders and compares them as strings
 *   (next_attempt against now, audit pruning, meta.lastModified filters and sorts), and strings of
 *   one fixed format (toISOString) order as their instants do, so both engines answer alike. A
 *   timestamptz would change what the shared queries compare and what reads return.
 * - Booleans that SQLite keeps as 0/1 with drizzle's boolean mode are `boolean`.
 * - users.data and groups.data are `jsonb`: SCIM filters look inside them (`data->>'x'`,
 *   jsonb_path_exists) on every row a list scans, and jsonb is parsed once when written rather than
 *   on every read, and can carry a GIN index. SQLite's db/resources.ts and db/filter-sql.ts read the
 *   same column as JSON text with json_extract; the PostgreSQL store writes and reads objects
 *   (node-postgres parses jsonb). jsonb does not keep key order or duplicate keys
 *   (https://www.postgresql.org/docs/15/datatype-json.html), neither of which SCIM gives meaning.
 *   The other JSON columns (changes.before/after, member lists, sync_state.written, rule configs)
 *   are written and read whole, so they stay `text` exactly as in SQLite.
 * - The indexes on the columns a list sorts by (RFC 7644 §3.4.2.3: the *_key columns, externalId,
 *   the meta dates) keep NULLs first, as SQLite orders them: a list sorts `ASC NULLS FIRST` (and
 *   `DESC NULLS LAST` backwards), and PostgreSQL walks a b-tree for an ORDER BY only when the
 *   NULLs' place matches the index's (https://www.postgresql.org/docs/15/indexes-ordering.html).
 *   A default (NULLS LAST) index would make every sorted page a sort of every matching row.
 * - group_members.position records insertion order, which SQLite has in the rowid: members are
 *   listed in the order they were added (db/pg/resources.ts). It is the one column SQLite has
 *   no counterpart for (test/db/schema-parity.test.ts).
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, unique, uniqueIndex, type ExtraConfigColumn } from "drizzle-orm/pg-core";

/** A seq the database assigns (SQLite: INTEGER PRIMARY KEY, a rowid). */
const seq = () => bigint("seq", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity();

/** An index column in SQLite's NULL order (NULLs first ascending), so a list's ORDER BY can walk it. */
const nullsFirst = (c: ExtraConfigColumn) => c.asc().nullsFirst();

export const users = pgTable(
  "users",
  {
    seq: seq(),
    id: text("id").notNull(),
    userName: text("user_name").notNull(),
    userNameKey: text("user_name_key").notNull(),
    externalId: text("external_id"),
    displayNameKey: text("display_name_key"),
    active: boolean("active"),
    data: jsonb("data").notNull(),
    created: text("created").notNull(),
    lastModified: text("last_modified").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [
    // A unique constraint, not only a unique index: user_emails' foreign key refers to users.id,
    // and the constraint exists as soon as the table does, whatever order the migration's
    // statements come in. Its index bears the same name as SQLite's unique index.
    unique("users_id").on(t.id),
    uniqueIndex("users_user_name_key").on(nullsFirst(t.userNameKey)),
    index("users_external_id").on(nullsFirst(t.externalId)),
    index("users_active").on(t.active),
    index("users_last_modified").on(nullsFirst(t.lastModified)),
    index("users_display_name_key").on(nullsFirst(t.displayNameKey)),
    index("users_created").on(nullsFirst(t.created)),
    // No users_seq: SQLite needs it because its primary key is the table itself (the rowid), so a
    // deep OFFSET would read whole rows; here the primary key's own b-tree (users_pkey) is exactly
    // an index on seq alone, and a second one would only double the writes.
  ],
);

export const userEmails = pgTable(
  "user_emails",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    value: text("value"),
    valueKey: text("value_key"),
    type: text("type"),
    primary: boolean("primary"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.position] }), index("user_emails_value_key").on(t.valueKey)],
);

export const groups = pgTable(
  "groups",
  {
    seq: seq(),
    id: text("id").notNull(),
    displayName: text("display_name").notNull(),
    displayNameKey: text("display_name_key").notNull(),
    externalId: text("external_id"),
    data: jsonb("data").notNull(),
    created: text("created").notNull(),
    lastModified: text("last_modified").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [
    unique("groups_id").on(t.id), // a constraint for group_members' foreign key, as users_id
    uniqueIndex("groups_display_name_key").on(nullsFirst(t.displayNameKey)),
    index("groups_external_id").on(nullsFirst(t.externalId)),
    index("groups_last_modified").on(nullsFirst(t.lastModified)),
    index("groups_created").on(nullsFirst(t.created)),
    // No groups_seq: groups_pkey is that index (see users_seq above).
  ],
);

export const groupMembers = pgTable(
  "group_members",
  {
    groupId: text("group_id")
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
    memberId: text("member_id").notNull(),
    memberType: text("member_type").notNull(),
    display: text("display"),
    /** Insertion order (SQLite's rowid): members are listed in the order they were added. */
    position: bigint("position", { mode: "number" }).notNull().generatedAlwaysAsIdentity(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.memberId] }), index("group_members_member").on(t.memberId)],
);

export const tokens = pgTable("tokens", {
  name: text("name").primaryKey(),
  hash: text("hash").notNull(),
  hint: text("hint").notNull(),
  created: text("created").notNull(),
  lastUsed: text("last_used"),
});

export const changes = pgTable(
  "changes",
  {
    seq: seq(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    op: text("op").notNull(),
    version: integer("version").notNull(),
    at: text("at").notNull(),
    client: text("client"),
    before: text("before"),
    after: text("after"),
    membersAdded: text("members_added"),
    membersRemoved: text("members_removed"),
    fannedOut: boolean("fanned_out").notNull().default(false),
  },
  (t) => [index("changes_resource").on(t.resourceType, t.resourceId, t.seq), index("changes_unfanned").on(t.seq).where(sql`NOT ${t.fannedOut}`)],
);

export const syncState = pgTable(
  "sync_state",
  {
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    rule: text("rule").notNull(),
    target: text("target").notNull(),
    state: text("state").notNull(),
    wantedSeq: bigint("wanted_seq", { mode: "number" }).notNull(),
    deliveredSeq: bigint("delivered_seq", { mode: "number" }).notNull().default(0),
    dn: text("dn"),
    dnKey: text("dn_key"),
    directoryId: text("directory_id"),
    written: text("written"),
    attempts: integer("attempts").notNull().default(0),
    lastAttempt: text("last_attempt"),
    nextAttempt: text("next_attempt"),
    lastCode: integer("last_code"),
    lastError: text("last_error"),
    secret: text("secret"),
    waitingFor: text("waiting_for"),
    updated: text("updated").notNull(),
    leaseOwner: text("lease_owner"),
    leaseUntil: text("lease_until"),
    leaseToken: bigint("lease_token", { mode: "number" }),
  },
  (t) => [
    primaryKey({ columns: [t.resourceType, t.resourceId, t.rule] }),
    index("sync_state_pending").on(t.state, t.wantedSeq),
    index("sync_state_due").on(t.state, t.nextAttempt),
    index("sync_state_rule").on(t.rule),
    index("sync_state_dn_key").on(t.target, t.dnKey),
    index("sync_state_waiting_for").on(t.waitingFor),
    index("sync_state_lease_owner").on(t.leaseOwner).where(sql`${t.leaseOwner} IS NOT NULL`),
  ],
);

export const entryTombstones = pgTable(
  "entry_tombstones",
  {
    rule: text("rule").notNull(),
    target: text("target").notNull(),
    dnKey: text("dn_key").notNull(),
    dn: text("dn").notNull(),
    directoryId: text("directory_id").notNull(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    at: text("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.rule, t.target, t.dnKey, t.directoryId] }), index("entry_tombstones_dn_key").on(t.target, t.dnKey)],
);

export const groupMemberSync = pgTable(
  "group_member_sync",
  {
    rule: text("rule").notNull(),
    groupId: text("group_id").notNull(),
    memberId: text("member_id").notNull(),
    dn: text("dn"),
    dirty: bigint("dirty", { mode: "number" }).notNull().default(0),
    evict: integer("evict").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.rule, t.groupId, t.memberId] }),
    index("group_member_sync_dirty").on(t.rule, t.groupId, t.dirty),
    index("group_member_sync_member").on(t.memberId),
  ],
);

export const pendingSecrets = pgTable("pending_secrets", {
  userId: text("user_id").primaryKey(),
  sealed: text("sealed").notNull(),
  at: text("at").notNull(),
});

export const knownRules = pgTable("known_rules", {
  name: text("name").primaryKey(),
  kind: text("kind").notNull(),
  target: text("target").notNull(),
  config: text("config").notNull(),
  lastSeen: text("last_seen").notNull(),
});

export const auditLog = pgTable(
  "audit_log",
  {
    seq: seq(),
    at: text("at").notNull(),
    kind: text("kind").notNull(),
    client: text("client"),
    operation: text("operation").notNull(),
    resourceType: text("resource_type"),
    resourceId: text("resource_id"),
    target: text("target"),
    dn: text("dn"),
    outcome: text("outcome").notNull(),
    detail: text("detail"),
  },
  (t) => [
    index("audit_log_at").on(t.at),
    index("audit_log_kind_seq").on(t.kind, t.seq),
    index("audit_log_resource").on(t.resourceType, t.resourceId, t.seq),
  ],
);
