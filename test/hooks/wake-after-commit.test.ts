/**
 * A SCIM write wakes the delivery worker when it commits: its change reaches the directory at once,
 * never waiting for the poll timer, which is set to a minute here, so anything that relied on it
 * instead of a wake would not arrive within the test's few seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { eventually, useSlapd } from "../harness/slapd.js";
import type { LdapWriteEvent } from "../../server/observability/audit.js";

const ldap = useSlapd();
const SUFFIX = "dc=example,dc=com";
const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
let p: Provisioned;
const ldapWrites: LdapWriteEvent[] = [];

beforeAll(async () => {
  const { Attribute } = await import("ldapts");
  await ldap.admin.add(`ou=vpn,${SUFFIX}`, [new Attribute({ type: "objectClass", values: ["organizationalUnit"] }), new Attribute({ type: "ou", values: ["vpn"] })]);
  p = await provisioned(ldap, {
    // Two connections: a burst of changes finds no free slot for some, which the pump then takes.
    targets: [{ name: "slapd", directory: "openldap", urls: [ldap.slapd.url], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 2, timeoutMs: 3000 }],
    userRules: [
      { name: "people", target: "slapd", dn: `uid={userName},ou=people,${SUFFIX}` },
      { name: "vpn", target: "slapd", filter: 'groups[display eq "vpn-users"]', dn: `uid={userName},ou=vpn,${SUFFIX}`, actions: { deprovision: { onDelete: "delete", onLeaveFilter: "delete" } } },
    ],
    groupRules: [{ name: "groups", target: "slapd", dn: `cn={displayName},ou=groups,${SUFFIX}` }],
    provisioning: { pollMs: 60_000 },
    observers: { onLdapWrite: (e) => ldapWrites.push(e) },
  });
});
afterAll(async () => p?.close());

const post = async (path: string, body: object) => {
  const res = await p.http.post(path).set(p.auth).send(body);
  expect(res.status).toBe(201);
  return res.body.id as string;
};
const addMember = async (groupId: string, userId: string) => {
  const res = await p.http.patch(`/scim/v2/Groups/${groupId}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: userId }] }] });
  expect(res.status).toBe(204); // a group PATCH answers 204 by default
};
const isMember = async (cn: string, uid: string) =>
  ((await ldap.search(`cn=${cn},ou=groups,${SUFFIX}`, ["member"]))?.member ?? []).some((m) => m.toLowerCase() === `uid=${uid},ou=people,${SUFFIX}`);

describe("after a SCIM write commits (poll timer: one minute)", () => {
  it("a member added to a group reaches the directory without the poll timer", async () => {
    const u = await post("/scim/v2/Users", user("wa-ann"));
    const g = await post("/scim/v2/Groups", { schemas: [GROUP_SCHEMA], displayName: "wa-team" });
    await p.settle();
    await addMember(g, u);
    expect(await eventually(() => isMember("wa-team", "wa-ann"), 5000)).toBe(true);
    // The embedder's observer sees the modify once the worker has slapd's answer. Not at once: a
    // search on another connection can see the value before that answer is read (a loaded CI).
    const seen = () => ldapWrites.some((e) => e.operation === "modify" && e.dn === `cn=wa-team,ou=groups,${SUFFIX}` && e.outcome === "success" && e.resourceId === g);
    expect(await eventually(seen, 5000)).toBe(true);
    await p.settle();
  });

  it("a user row the fan-out marked beyond the group's (a group-based rule) is still started at once", async () => {
    const u = await post("/scim/v2/Users", user("wa-vic"));
    const vpn = await post("/scim/v2/Groups", { schemas: [GROUP_SCHEMA], displayName: "vpn-users" });
    await p.settle();
    await addMember(vpn, u);
    expect(await eventually(async () => (await ldap.search(`uid=wa-vic,ou=vpn,${SUFFIX}`)) !== undefined, 5000)).toBe(true);
    expect(await eventually(() => isMember("vpn-users", "wa-vic"), 5000)).toBe(true);
  });

  it("changes whose target has no free slot wait for one, then go without the poll timer", async () => {
    const names = ["wa-amy", "wa-bob", "wa-cat", "wa-dan", "wa-eve", "wa-fay"];
    const users = await Promise.all(names.map((n) => post("/scim/v2/Users", user(n))));
    const groups = await Promise.all(names.map((n) => post("/scim/v2/Groups", { schemas: [GROUP_SCHEMA], displayName: `g-${n}` })));
    await p.settle();
    // In one go: two take the connections, the others find no slot.
    await Promise.all(names.map((_, i) => addMember(groups[i]!, users[i]!)));
    for (const n of names) expect(await eventually(() => isMember(`g-${n}`, n), 5000)).toBe(true);
  });
});
