/**
 * Microsoft Entra ID provisioning: filter lookups on userName and (unquoted) externalId, create
 * with roles:[] and meta, PATCH with capitalised ops and "False"/"True" strings, path-less replace
 * with dotted and URN keys (aadOptscim062020), groups created without members and with the
 * non-standard ADSCIM URN, members added with $ref:null and removed with a value array.
 */
import type { Ctx, Suite } from "../types.js";
import { all, at, captureId, ENTERPRISE, equals, GROUP, hasId, json, list, members, patched, patchOp, query, resources, status, USER, verify } from "./common.js";

const TUTORIAL = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups";
const COMPAT = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility";
const GALLERY = "https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/app-gallery-user-provisioning-requirements";
const HOW = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/how-provisioning-works";
const ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

const userName = (ctx: Ctx) => ctx.name("Test_User_entra");
// A bare token, so the tutorial's unquoted `externalId eq jyoung` form applies.
const externalId = (ctx: Ctx) => `jyoung${ctx.run}`;
const groupName = (ctx: Ctx) => ctx.name("entra-group");

/** The tutorial's create body, verbatim in shape. */
const createBody = (name: string, ext: string) => ({
  schemas: [USER, ENTERPRISE],
  externalId: ext,
  userName: name,
  active: true,
  emails: [{ primary: true, type: "work", value: `${name}@testuser.com` }],
  meta: { resourceType: "User" },
  name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
  roles: [],
});

const userPath = (ctx: Ctx) => `/Users/${ctx.get("user")}`;
const groupPath = (ctx: Ctx) => `/Groups/${ctx.get("group")}`;

export const entra: Suite = {
  client: "entra",
  steps: [
    {
      name: "read /Schemas (provisioning saved)",
      source: TUTORIAL,
      request: () => ({ method: "GET", path: "/Schemas" }),
      expect: (res) => status(res, 200) ?? (resources(res).some((s) => s.id === USER) ? undefined : `no ${USER} in /Schemas`),
    },
    {
      name: 'lookup user by userName eq "…" (no match: 200 and an empty list)',
      source: GALLERY,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `userName eq "${userName(ctx)}"` }) }),
      expect: (res) => list(res, []),
    },
    {
      name: "lookup user by unquoted externalId eq x (no match)",
      source: TUTORIAL,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `externalId eq ${externalId(ctx)}` }) }),
      expect: (res) => list(res, []),
    },
    {
      name: "create user (roles:[] and meta sent)",
      source: TUTORIAL,
      request: (ctx) => ({ method: "POST", path: "/Users", body: createBody(userName(ctx), externalId(ctx)) }),
      expect: (res) => all(status(res, 201), hasId(res), equals(res, ["active"], true)),
      capture: captureId("user"),
    },
    {
      name: "create the manager user",
      source: TUTORIAL,
      request: (ctx) => ({ method: "POST", path: "/Users", body: createBody(ctx.name("Test_Manager_entra"), `mgr${ctx.run}`) }),
      expect: (res) => all(status(res, 201), hasId(res)),
      capture: captureId("manager"),
    },
    {
      name: "lookup user by unquoted externalId eq x",
      source: TUTORIAL,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `externalId eq ${externalId(ctx)}` }) }),
      expect: (res, ctx) => list(res, [ctx.get("user")]),
    },
    {
      name: "lookup user by userName eq",
      source: TUTORIAL,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `userName eq "${userName(ctx)}"` }) }),
      expect: (res, ctx) => list(res, [ctx.get("user")]),
    },
    {
      name: "update user: PATCH Replace/Add with capitalised ops and value-filter paths",
      source: TUTORIAL,
      request: (ctx) => ({
        method: "PATCH",
        path: userPath(ctx),
        body: patchOp(
          { op: "Replace", path: 'emails[type eq "work"].value', value: `${ctx.name("updated")}@testuser.com` },
          { op: "Replace", path: "name.familyName", value: "updatedFamilyName" },
          { op: "Add", path: "nickName", value: "Babs" },
        ),
      }),
      expect: patched,
    },
    verify("user after Replace/Add", TUTORIAL, userPath, (res, ctx) =>
      all(
        equals(res, ["emails"], [{ primary: true, type: "work", value: `${ctx.name("updated")}@testuser.com` }]),
        equals(res, ["name", "familyName"], "updatedFamilyName"),
        equals(res, ["nickName"], "Babs"),
      ),
    ),
    {
      name: "update user: path-less replace with dotted and URN keys (aadOptscim062020)",
      source: COMPAT,
      request: (ctx) => ({
        method: "PATCH",
        path: userPath(ctx),
        body: patchOp({ op: "replace", value: { "name.givenName": "Barbara", [`${ENTERPRISE}:employeeNumber`]: "701984" } }),
      }),
      expect: patched,
    },
    verify("user after path-less replace", COMPAT, userPath, (res) => all(equals(res, ["name", "givenName"], "Barbara"), equals(res, [ENTERPRISE, "employeeNumber"], "701984"))),
    {
      name: "set manager (enterprise extension, bare string value)",
      source: TUTORIAL,
      request: (ctx) => ({ method: "PATCH", path: userPath(ctx), body: patchOp({ op: "Replace", path: `${ENTERPRISE}:manager`, value: ctx.get("manager") }) }),
      expect: patched,
    },
    verify("user's manager", TUTORIAL, userPath, (res, ctx) => equals(res, [ENTERPRISE, "manager", "value"], ctx.get("manager"))),
    {
      name: 'disable user: Replace active "False" (a string)',
      source: COMPAT,
      request: (ctx) => ({ method: "PATCH", path: userPath(ctx), body: patchOp({ op: "Replace", path: "active", value: "False" }) }),
      expect: patched,
    },
    verify("disabled user still readable, active false", TUTORIAL, userPath, (res) => equals(res, ["active"], false)),
    {
      name: "disabled user still found by filter",
      source: TUTORIAL,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `userName eq "${userName(ctx)}"` }) }),
      expect: (res, ctx) => list(res, [ctx.get("user")]) ?? (at(resources(res)[0], ["active"]) === false ? undefined : "active is not false in the list"),
    },
    {
      name: 're-enable user: Replace active "True"',
      source: COMPAT,
      request: (ctx) => ({ method: "PATCH", path: userPath(ctx), body: patchOp({ op: "Replace", path: "active", value: "True" }) }),
      expect: patched,
    },
    verify("re-enabled user", COMPAT, userPath, (res) => equals(res, ["active"], true)),
    {
      name: "lookup group by displayName with excludedAttributes=members (no match)",
      source: TUTORIAL,
      request: (ctx) => ({ method: "GET", path: query("/Groups", { excludedAttributes: "members", filter: `displayName eq "${groupName(ctx)}"` }) }),
      expect: (res) => list(res, []),
    },
    {
      name: "create group without members (ADSCIM schema URN, meta)",
      source: TUTORIAL,
      request: (ctx) => ({
        method: "POST",
        path: "/Groups",
        body: { schemas: [GROUP, ADSCIM_GROUP], externalId: `grp${ctx.run}`, displayName: groupName(ctx), meta: { resourceType: "Group" } },
      }),
      expect: (res) => all(status(res, 201), hasId(res)),
      capture: captureId("group"),
    },
    {
      name: "read group with excludedAttributes=members",
      source: TUTORIAL,
      request: (ctx) => ({ method: "GET", path: query(groupPath(ctx), { excludedAttributes: "members" }) }),
      expect: (res, ctx) => all(status(res, 200), equals(res, ["displayName"], groupName(ctx)), "members" in json(res) ? "members returned despite excludedAttributes=members" : undefined),
    },
    {
      name: "add members: Add with $ref:null",
      source: TUTORIAL,
      request: (ctx) => ({
        method: "PATCH",
        path: groupPath(ctx),
        body: patchOp({ op: "Add", path: "members", value: [{ $ref: null, value: ctx.get("user") }, { $ref: null, value: ctx.get("manager") }] }),
      }),
      expect: patched,
    },
    verify("group members after Add", TUTORIAL, groupPath, (res, ctx) => members(res, [ctx.get("user"), ctx.get("manager")])),
    {
      name: "remove member: Remove path members with a value array",
      source: COMPAT,
      request: (ctx) => ({ method: "PATCH", path: groupPath(ctx), body: patchOp({ op: "Remove", path: "members", value: [{ value: ctx.get("user") }] }) }),
      expect: patched,
    },
    verify("group members after Remove (value array)", COMPAT, groupPath, (res, ctx) => members(res, [ctx.get("manager")])),
    {
      name: 'remove member: remove path members[value eq "…"] (aadOptscim062020)',
      source: COMPAT,
      request: (ctx) => ({ method: "PATCH", path: groupPath(ctx), body: patchOp({ op: "remove", path: `members[value eq "${ctx.get("manager")}"]` }) }),
      expect: patched,
    },
    verify("group members after remove (filter path)", COMPAT, groupPath, (res) => members(res, [])),
    {
      name: "rename group: Replace displayName",
      source: TUTORIAL,
      request: (ctx) => ({ method: "PATCH", path: groupPath(ctx), body: patchOp({ op: "Replace", path: "displayName", value: ctx.name("entra-group-renamed") }) }),
      expect: patched,
    },
    verify("renamed group", TUTORIAL, (ctx) => query(groupPath(ctx), { excludedAttributes: "members" }), (res, ctx) => equals(res, ["displayName"], ctx.name("entra-group-renamed"))),
    {
      name: "delete group",
      source: TUTORIAL,
      request: (ctx) => ({ method: "DELETE", path: groupPath(ctx) }),
      expect: (res) => status(res, 204),
    },
    {
      name: "delete user (hard delete)",
      source: HOW,
      request: (ctx) => ({ method: "DELETE", path: userPath(ctx) }),
      expect: (res) => status(res, 204),
    },
    {
      name: "delete manager user",
      source: HOW,
      request: (ctx) => ({ method: "DELETE", path: `/Users/${ctx.get("manager")}` }),
      expect: (res) => status(res, 204),
    },
    {
      name: "deleted user is gone",
      source: TUTORIAL,
      request: (ctx) => ({ method: "GET", path: userPath(ctx) }),
      expect: (res) => status(res, 404),
    },
  ],
};
