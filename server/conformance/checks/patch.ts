/**
 * PATCH (RFC 7644 §3.5.2): every operation form, the identity providers' dialects, idempotent
 * membership changes and referential checks on member ids.
 */
import { CheckSkipped, type Check, type Http, type StepResponse } from "../types.js";
import { attr } from "../compare.js";
import { ENTERPRISE, PATCH_OP } from "../suites/common.js";
import { body, createGroup, createUser, expectStatus, memberValues, patchBody, read, RFC7643, RFC7644, type Body } from "./support.js";

const ENTRA = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility";
const OKTA = "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20";
const PING = "https://docs.pingidentity.com/integrations/scim/pf_scim_connector.html";

/** A 200/204 PATCH answer (RFC 7644 §3.5.2: 200 with the resource, or 204). */
const patched = (res: StepResponse) => expectStatus(res, 200, 204);

interface UserPatch {
  id: string;
  area: "patch" | "dialect";
  title: string;
  source: string;
  level: "must" | "should";
  setup?: Body;
  body: (userId: string) => unknown;
  /** A schema the server must list in /Schemas for the check to apply (an optional extension). */
  needsSchema?: string;
  /** Judges the user read back after the PATCH. */
  after: (user: Body) => string | undefined;
}

const want = (label: string, got: unknown, expected: unknown) => (got === expected ? undefined : `${label} reads ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
const emailsOf = (u: Body) => ((attr(u, "emails") as unknown[] | undefined) ?? []).map((e) => ({ type: attr(e, "type"), value: attr(e, "value") }));

function userPatch(p: UserPatch): Check {
  return {
    id: `${p.area}.${p.id}`,
    area: p.area,
    title: p.title,
    source: p.source,
    level: p.level,
    async run(http, ctx) {
      if (p.needsSchema && !(await listsSchema(http, p.needsSchema))) throw new CheckSkipped(`the server does not list ${p.needsSchema} in /Schemas`);
      const { id } = await createUser(http, ctx, p.id, { title: "Before", emails: [{ type: "work", value: `w-${ctx.run}@example.com` }, { type: "home", value: `h-${ctx.run}@example.org` }], ...p.setup });
      const bad = patched(await http.send({ method: "PATCH", path: `/Users/${id}`, body: p.body(id) }));
      return bad ?? p.after(await read(http, `/Users/${id}`));
    },
  };
}

const PATCH_FORMS: UserPatch[] = [
  { id: "add-with-path", area: "patch", title: "add with a path", source: `${RFC7644}#section-3.5.2.1`, level: "must", body: () => patchBody({ op: "add", path: "nickName", value: "Nick" }), after: (u) => want("nickName", attr(u, "nickName"), "Nick") },
  { id: "add-without-path", area: "patch", title: "add without a path (value is an object)", source: `${RFC7644}#section-3.5.2.1`, level: "must", body: () => patchBody({ op: "add", value: { nickName: "Nick2" } }), after: (u) => want("nickName", attr(u, "nickName"), "Nick2") },
  { id: "replace-with-path", area: "patch", title: "replace with a path", source: `${RFC7644}#section-3.5.2.3`, level: "must", body: () => patchBody({ op: "replace", path: "title", value: "After" }), after: (u) => want("title", attr(u, "title"), "After") },
  { id: "replace-sub-attribute", area: "patch", title: "replace name.givenName", source: `${RFC7644}#section-3.5.2.3`, level: "must", body: () => patchBody({ op: "replace", path: "name.givenName", value: "Given" }), after: (u) => want("name.givenName", attr(attr(u, "name"), "givenName"), "Given") },
  { id: "replace-value-path", area: "patch", title: 'replace emails[type eq "work"].value', source: `${RFC7644}#section-3.5.2.3`, level: "must", body: () => patchBody({ op: "replace", path: 'emails[type eq "work"].value', value: "new@example.com" }), after: (u) => (emailsOf(u).some((e) => e.type === "work" && e.value === "new@example.com") ? undefined : `emails read ${JSON.stringify(emailsOf(u))}`) },
  { id: "remove-with-path", area: "patch", title: "remove with a path", source: `${RFC7644}#section-3.5.2.2`, level: "must", body: () => patchBody({ op: "remove", path: "title" }), after: (u) => want("title", attr(u, "title"), undefined) },
  { id: "remove-value-path", area: "patch", title: 'remove emails[type eq "home"]', source: `${RFC7644}#section-3.5.2.2`, level: "must", body: () => patchBody({ op: "remove", path: 'emails[type eq "home"]' }), after: (u) => (emailsOf(u).length === 1 && emailsOf(u)[0]!.type === "work" ? undefined : `emails read ${JSON.stringify(emailsOf(u))}`) },
  // §3.5.2.1: "If the target location specifies a multi-valued attribute, ... the values are added".
  { id: "add-multi-valued", area: "patch", title: "add values to a multi-valued attribute (emails)", source: `${RFC7644}#section-3.5.2.1`, level: "must", body: (id) => patchBody({ op: "add", path: "emails", value: [{ type: "other", value: `o-${id}@example.net` }] }), after: (u) => (emailsOf(u).length === 3 && emailsOf(u).some((e) => e.type === "other") ? undefined : `emails read ${JSON.stringify(emailsOf(u))}`) },
  // §3.5.2.3: "If the target location is a multi-valued attribute and no filter is specified, the
  // attribute and all values are replaced."
  { id: "replace-multi-valued", area: "patch", title: "replace a whole multi-valued attribute (emails) by its path", source: `${RFC7644}#section-3.5.2.3`, level: "must", body: () => patchBody({ op: "replace", path: "emails", value: [{ type: "work", value: "only@example.com" }] }), after: (u) => (JSON.stringify(emailsOf(u)) === JSON.stringify([{ type: "work", value: "only@example.com" }]) ? undefined : `emails read ${JSON.stringify(emailsOf(u))}, expected only the replacement`) },
  // §3.5.2.3: without a path, each attribute of the value object is replaced as with its own path.
  { id: "replace-multi-valued-without-path", area: "patch", title: "replace without a path replaces a multi-valued attribute's values", source: `${RFC7644}#section-3.5.2.3`, level: "must", body: () => patchBody({ op: "replace", value: { emails: [{ type: "work", value: "only2@example.com" }] } }), after: (u) => (JSON.stringify(emailsOf(u)) === JSON.stringify([{ type: "work", value: "only2@example.com" }]) ? undefined : `emails read ${JSON.stringify(emailsOf(u))}, expected only the replacement`) },
  // §3.5.2.2: "If the target location is a multi-valued attribute and no filter is specified, the
  // attribute and all values are removed."
  { id: "remove-multi-valued", area: "patch", title: "remove a whole multi-valued attribute (emails)", source: `${RFC7644}#section-3.5.2.2`, level: "must", body: () => patchBody({ op: "remove", path: "emails" }), after: (u) => (emailsOf(u).length === 0 ? undefined : `emails read ${JSON.stringify(emailsOf(u))}, expected none`) },
  { id: "extension-urn-path", area: "patch", title: "replace an extension attribute by its URN path", source: `${RFC7644}#section-3.5.2`, level: "must", needsSchema: ENTERPRISE, body: () => patchBody({ op: "replace", path: `${ENTERPRISE}:department`, value: "Ops" }), after: (u) => want("department", attr(attr(u, ENTERPRISE), "department"), "Ops") },
  { id: "several-operations-in-order", area: "patch", title: "several operations apply in order", source: `${RFC7644}#section-3.5.2`, level: "must", body: () => patchBody({ op: "replace", path: "title", value: "One" }, { op: "replace", path: "title", value: "Two" }), after: (u) => want("title", attr(u, "title"), "Two") },
  // RFC 7643 §2.1: attribute names, including the PatchOp message's "Operations", are case-insensitive.
  { id: "operations-key-any-case", area: "patch", title: 'a PatchOp with lower-case "operations" is accepted', source: `${RFC7643}#section-2.1`, level: "must", body: () => ({ schemas: [PATCH_OP], operations: [{ op: "replace", path: "title", value: "Lower" }] }), after: (u) => want("title", attr(u, "title"), "Lower") },
  { id: "entra-capitalised-op", area: "dialect", title: 'Entra: "Replace" (capitalised op)', source: ENTRA, level: "should", body: () => patchBody({ op: "Replace", path: "title", value: "Cap" }), after: (u) => want("title", attr(u, "title"), "Cap") },
  { id: "entra-string-boolean", area: "dialect", title: 'Entra: active "False" as a string', source: ENTRA, level: "should", body: () => patchBody({ op: "Replace", path: "active", value: "False" }), after: (u) => want("active", attr(u, "active"), false) },
  { id: "okta-pathless-replace", area: "dialect", title: "Okta: replace without a path, value {active:false}", source: OKTA, level: "should", body: () => patchBody({ op: "replace", value: { active: false } }), after: (u) => want("active", attr(u, "active"), false) },
  { id: "entra-pathless-dotted-keys", area: "dialect", title: "Entra: path-less replace with dotted keys (name.givenName)", source: ENTRA, level: "should", body: () => patchBody({ op: "replace", value: { "name.givenName": "Dotted" } }), after: (u) => want("name.givenName", attr(attr(u, "name"), "givenName"), "Dotted") },
];

async function listsSchema(http: Http, urn: string): Promise<boolean> {
  const res = await http.send({ method: "GET", path: "/Schemas" });
  const found = attr(res.body, "Resources");
  return Array.isArray(found) && found.some((s) => attr(s, "id") === urn);
}

async function addMember(http: Http, groupId: string, userId: string): Promise<StepResponse> {
  return http.send({ method: "PATCH", path: `/Groups/${groupId}`, body: patchBody({ op: "add", path: "members", value: [{ value: userId }] }) });
}

const duplicates = (ids: string[]) => ids.filter((v, i) => ids.indexOf(v) !== i);

export const membershipChecks: Check[] = [
  {
    id: "membership.add-existing-member-idempotent",
    area: "membership",
    title: "adding a member already present leaves one membership",
    // RFC 7644 §3.5.2.1: if the target already contains the value, no changes SHOULD be made; a
    // group listing one member twice is corrupt data (members is a set of references, RFC 7643 §4.2).
    source: `${RFC7644}#section-3.5.2.1`,
    level: "must",
    async run(http, ctx) {
      const { id: user } = await createUser(http, ctx, "m1");
      const { id: group } = await createGroup(http, ctx, "g1", [user]);
      const bad = patched(await addMember(http, group, user));
      if (bad) return bad;
      const ids = memberValues(await read(http, `/Groups/${group}`));
      return duplicates(ids).length ? `members lists ${JSON.stringify(ids)}: ${user} twice` : ids.includes(user) ? undefined : "the member is gone";
    },
  },
  {
    id: "membership.remove-absent-member",
    area: "membership",
    title: "removing a member that is not there succeeds",
    source: `${RFC7644}#section-3.5.2.2`,
    level: "should",
    async run(http, ctx) {
      const { id: user } = await createUser(http, ctx, "m2");
      const { id: group } = await createGroup(http, ctx, "g2");
      return patched(await http.send({ method: "PATCH", path: `/Groups/${group}`, body: patchBody({ op: "remove", path: `members[value eq "${user}"]` }) }));
    },
  },
  {
    id: "membership.remove-value-filter",
    area: "membership",
    title: 'remove members[value eq "id"] removes that member only',
    source: `${RFC7644}#section-3.5.2.2`,
    level: "must",
    async run(http, ctx) {
      const [a, b] = [(await createUser(http, ctx, "m3a")).id, (await createUser(http, ctx, "m3b")).id];
      const { id: group } = await createGroup(http, ctx, "g3", [a, b]);
      const bad = patched(await http.send({ method: "PATCH", path: `/Groups/${group}`, body: patchBody({ op: "remove", path: `members[value eq "${a}"]` }) }));
      const ids = memberValues(await read(http, `/Groups/${group}`));
      return bad ?? (ids.length === 1 && ids[0] === b ? undefined : `members read ${JSON.stringify(ids)}, expected [${b}]`);
    },
  },
  {
    id: "membership.entra-remove-value-list",
    area: "dialect",
    title: "Entra: remove path members with a value list",
    source: "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups",
    level: "should",
    async run(http, ctx) {
      const [a, b] = [(await createUser(http, ctx, "m4a")).id, (await createUser(http, ctx, "m4b")).id];
      const { id: group } = await createGroup(http, ctx, "g4", [a, b]);
      const bad = patched(await http.send({ method: "PATCH", path: `/Groups/${group}`, body: patchBody({ op: "Remove", path: "members", value: [{ value: a }] }) }));
      const ids = memberValues(await read(http, `/Groups/${group}`));
      return bad ?? (ids.length === 1 && ids[0] === b ? undefined : `members read ${JSON.stringify(ids)}, expected [${b}]`);
    },
  },
  {
    id: "membership.pingfederate-put-whole-group",
    area: "dialect",
    title: "PingFederate: membership changed by PUT of the whole group",
    source: PING,
    level: "should",
    async run(http, ctx) {
      const [a, b] = [(await createUser(http, ctx, "m5a")).id, (await createUser(http, ctx, "m5b")).id];
      const { id: group, body: g } = await createGroup(http, ctx, "g5", [a]);
      const res = await http.send({ method: "PUT", path: `/Groups/${group}`, body: { schemas: attr(g, "schemas"), displayName: attr(g, "displayName"), members: [{ value: b }] } });
      const ids = memberValues(await read(http, `/Groups/${group}`));
      return expectStatus(res, 200) ?? (ids.length === 1 && ids[0] === b ? undefined : `members read ${JSON.stringify(ids)}, expected [${b}]`);
    },
  },
  {
    id: "referential.unknown-member-id-refused",
    area: "referential",
    title: "adding a member id that names no resource is refused (400) and not stored",
    // RFC 7643 §4.2: members[].value is the id of a User or Group; RFC 7644 §3.12 invalidValue.
    source: `${RFC7643}#section-4.2`,
    level: "must",
    async run(http, ctx) {
      const { id: group } = await createGroup(http, ctx, "g6");
      const ghost = `no-such-user-${ctx.run}`;
      const res = await addMember(http, group, ghost);
      const ids = memberValues(await read(http, `/Groups/${group}`));
      if (ids.includes(ghost)) return `the group now lists the unknown id ${ghost} (PATCH answered ${res.status})`;
      return res.status >= 400 && res.status < 500 ? undefined : `expected a 4xx, got ${res.status}`;
    },
  },
  {
    id: "referential.unknown-member-on-create",
    area: "referential",
    title: "creating a group with an unknown member id is refused",
    source: `${RFC7643}#section-4.2`,
    level: "must",
    async run(http, ctx) {
      const ghost = `no-such-user-${ctx.run}`;
      const res = await http.send({ method: "POST", path: "/Groups", body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: `ghost-${ctx.run}`, members: [{ value: ghost }] } });
      if (res.status === 201) return `created with the unknown member ${ghost}: ${JSON.stringify(memberValues(body(res)))}`;
      return res.status >= 400 && res.status < 500 ? undefined : `expected a 4xx, got ${res.status}`;
    },
  },
];

export const patchChecks: Check[] = PATCH_FORMS.map(userPatch);
