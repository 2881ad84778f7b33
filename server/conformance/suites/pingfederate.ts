/**
 * PingFederate's SCIM Provisioner ("SCIM Connector" add-on) with SCIM Version 2.0. Users are
 * never PATCHed ("PATCH – Users: No; Groups: Yes"): update, disable and re-enable are full PUTs.
 * Groups are found by listing all of them, paged by "Results Per Page" (default 1000, -1 = the
 * largest page the target allows), and updated by PUT with the full member list, or by PATCH
 * when "Use PATCH for Group Updates" is ticked.
 */
import type { Ctx, Step, Suite } from "../types.js";
import { all, captureId, ENTERPRISE, equals, GROUP, hasId, json, list, members, noPassword, patched, patchOp, query, resources, status, USER, verify } from "./common.js";

const CONNECTOR = "https://docs.pingidentity.com/integrations/scim/pf_scim_connector.html";
const SETTINGS = "https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_scim_connector_settings_reference.html";
const LIFECYCLE = "https://docs.pingidentity.com/integrations/scim/pf_scim_connector_user_and_group_management.html";
const ATTRIBUTES = "https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_supported_attributes_reference.html";
const KNOWN_ISSUES = "https://docs.pingidentity.com/integrations/scim/release_notes/pf_scim_connector_known_issues_and_limitations.html";
const CHANGELOG = "https://docs.pingidentity.com/integrations/scim/release_notes/pf_scim_connector_changelog.html";
// "PingFederate can also re-enable disabled users" (Code42 variant of the connector page).
const REENABLE = "https://docs.pingidentity.com/r/eUGsMWf8OoiVkVtiuMwdlg/DJG9fbB3gHYQmZUlK_KV6Q";

const userName = (ctx: Ctx) => ctx.name("pf.jsmith");
const email = (ctx: Ctx) => `${userName(ctx)}@example.com`;

/**
 * The full resource the connector sends on create and on every PUT: its flat fields mapped to
 * SCIM 2.0 (ATTRIBUTES), one value per type with type and primary (KNOWN_ISSUES).
 */
function fullUser(ctx: Ctx, changes: { title?: string; active?: boolean; password?: string } = {}) {
  return {
    schemas: [USER, ENTERPRISE],
    userName: userName(ctx),
    externalId: `pf-guid-${ctx.run}`,
    name: { givenName: "John", familyName: "Smith", formatted: "John Smith" },
    displayName: "John Smith",
    title: changes.title ?? "Engineer",
    emails: [{ type: "work", value: email(ctx), primary: true }],
    phoneNumbers: [{ type: "work", value: "+1 555 0100", primary: true }],
    active: changes.active ?? true,
    [ENTERPRISE]: { employeeNumber: `E${ctx.run}`, department: "R&D" },
    ...(changes.password ? { password: changes.password } : {}),
  };
}

const group = (displayName: string, ids: string[]) => ({ schemas: [GROUP], displayName, members: ids.map((value) => ({ value })) });
const groupName = (ctx: Ctx) => ctx.name("CN-pf-engineers");

/** The group named `name` in one page of GET /Groups (PingFederate matches displayName itself). */
function findGroup(res: Parameters<Step["expect"]>[0], name: string) {
  return resources(res).find((g) => g.displayName === name);
}

export const pingfederate: Suite = {
  client: "pingfederate",
  steps: [
    {
      name: "lookup user by userName (no match yet)",
      // Unique User Identifier = userName: `userName eq <value>`; the Filter Expression template quotes "%s".
      source: SETTINGS,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `userName eq "${userName(ctx)}"` }) }),
      expect: (res) => list(res, []),
    },
    {
      name: "create user",
      // "User Create"; password mapped "Create Only" (recommended for password).
      source: ATTRIBUTES,
      request: (ctx) => ({ method: "POST", path: "/Users", body: fullUser(ctx, { password: `Pw-${ctx.run}-x9!` }) }),
      expect: (res, ctx) =>
        all(
          status(res, 201),
          hasId(res),
          noPassword(res),
          // Without type and primary echoed, the connector's updates misbehave (KNOWN_ISSUES).
          equals(res, ["emails"], [{ type: "work", value: email(ctx), primary: true }]),
        ),
      capture: captureId("user"),
    },
    {
      name: "lookup user by userName",
      source: SETTINGS,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `userName eq "${userName(ctx)}"` }) }),
      expect: (res, ctx) => list(res, [ctx.get("user")]),
    },
    {
      name: "lookup user by work email",
      // Unique User Identifier = workEmail: `emails eq <value>`, no sub-attribute.
      source: SETTINGS,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: `emails eq "${email(ctx)}"` }) }),
      expect: (res, ctx) => list(res, [ctx.get("user")]),
    },
    {
      name: "read user: type and primary echoed on every multi-valued item",
      // Without them "old values are not removed, and primary is set wrongly".
      source: KNOWN_ISSUES,
      request: (ctx) => ({ method: "GET", path: `/Users/${ctx.get("user")}` }),
      expect: (res, ctx) =>
        all(
          status(res, 200),
          equals(res, ["emails"], [{ type: "work", value: email(ctx), primary: true }]),
          equals(res, ["phoneNumbers"], [{ type: "work", value: "+1 555 0100", primary: true }]),
        ),
    },
    {
      name: "update user by PUT (full resource)",
      source: CONNECTOR,
      request: (ctx) => ({ method: "PUT", path: `/Users/${ctx.get("user")}`, body: fullUser(ctx, { title: "Staff Engineer" }) }),
      expect: (res, ctx) => all(status(res, 200), hasId(res), equals(res, ["title"], "Staff Engineer"), equals(res, ["id"], ctx.get("user"))),
    },
    {
      name: "disable user by PUT active:false",
      // Remove User Action = Disable; "Disable/Delete might need User Update enabled".
      source: SETTINGS,
      request: (ctx) => ({ method: "PUT", path: `/Users/${ctx.get("user")}`, body: fullUser(ctx, { title: "Staff Engineer", active: false }) }),
      expect: (res) => all(status(res, 200), equals(res, ["active"], false)),
    },
    {
      name: "read user with Accept: application/json only (connector before 1.3)",
      // 1.3 added application/scim+json; earlier versions send and accept only application/json.
      source: CHANGELOG,
      request: (ctx) => ({ method: "GET", path: `/Users/${ctx.get("user")}`, headers: { Accept: "application/json" } }),
      expect: (res) => {
        const type = res.headers.get("content-type") ?? "";
        return all(status(res, 200), /^application\/json\b/i.test(type) ? undefined : `Content-Type is "${type}", not application/json`, equals(res, ["active"], false));
      },
    },
    {
      name: "re-enable user by PUT active:true",
      source: REENABLE,
      request: (ctx) => ({ method: "PUT", path: `/Users/${ctx.get("user")}`, body: fullUser(ctx, { title: "Staff Engineer", active: true }) }),
      expect: (res) => all(status(res, 200), equals(res, ["active"], true)),
    },
    {
      name: "create second user already disabled (Provision Disabled Users)",
      source: SETTINGS,
      request: (ctx) => ({
        method: "POST",
        path: "/Users",
        body: { schemas: [USER], userName: ctx.name("pf.ajones"), name: { givenName: "Ann", familyName: "Jones" }, emails: [{ type: "work", value: `${ctx.name("pf.ajones")}@example.com`, primary: true }], active: false },
      }),
      expect: (res) => all(status(res, 201), hasId(res), equals(res, ["active"], false)),
      capture: captureId("user2"),
    },
    {
      name: "list all groups, Results Per Page 1000 (group not there yet)",
      // Groups are matched by retrieving all groups; no group filter is sent.
      source: CONNECTOR,
      request: () => ({ method: "GET", path: query("/Groups", { startIndex: 1, count: 1000 }) }),
      expect: (res, ctx) => list(res) ?? (findGroup(res, groupName(ctx)) ? "the group exists before it was created" : undefined),
    },
    {
      name: "create group with members",
      // Group Name Source = Common Name (CN) becomes displayName; only displayName and members are sent.
      source: LIFECYCLE,
      request: (ctx) => ({ method: "POST", path: "/Groups", body: group(groupName(ctx), [ctx.get("user")]) }),
      expect: (res, ctx) => all(status(res, 201), hasId(res), members(res, [ctx.get("user")])),
      capture: captureId("group"),
    },
    {
      name: "list all groups, Results Per Page -1 (the target's largest page)",
      source: SETTINGS,
      request: () => ({ method: "GET", path: query("/Groups", { startIndex: 1, count: -1 }) }),
      expect: (res, ctx) => {
        const bad = list(res);
        if (bad) return bad;
        const b = json(res);
        if (resources(res).length === 0) return "count=-1 returned no groups (PingFederate would miss every group)";
        // On a large server the group may be on a later page; when all fit, it must be there.
        if (Number(b.totalResults) <= resources(res).length && findGroup(res, groupName(ctx))?.id !== ctx.get("group")) return "the created group is not in the list";
        return undefined;
      },
    },
    {
      name: "update group by PUT with the full member list (add)",
      // Default group update is PUT; "memberships in the datastore overwrite memberships in the target".
      source: LIFECYCLE,
      request: (ctx) => ({ method: "PUT", path: `/Groups/${ctx.get("group")}`, body: group(groupName(ctx), [ctx.get("user"), ctx.get("user2")]) }),
      expect: (res, ctx) => all(status(res, 200), members(res, [ctx.get("user"), ctx.get("user2")])),
    },
    {
      name: "update group by PUT with the full member list (remove)",
      source: LIFECYCLE,
      request: (ctx) => ({ method: "PUT", path: `/Groups/${ctx.get("group")}`, body: group(groupName(ctx), [ctx.get("user2")]) }),
      expect: (res, ctx) => all(status(res, 200), members(res, [ctx.get("user2")])),
    },
    {
      name: "update group by PATCH (Use PATCH for Group Updates)",
      // The op shapes are not published; these are RFC 7644 §3.5.2.1/§3.5.2.2 add and remove.
      source: SETTINGS,
      request: (ctx) => ({
        method: "PATCH",
        path: `/Groups/${ctx.get("group")}`,
        body: patchOp({ op: "add", path: "members", value: [{ value: ctx.get("user") }] }, { op: "remove", path: `members[value eq "${ctx.get("user2")}"]` }),
      }),
      expect: patched,
    },
    verify("group members after PATCH", SETTINGS, (ctx) => `/Groups/${ctx.get("group")}`, (res, ctx) => members(res, [ctx.get("user")])),
    {
      name: "rename group by PUT",
      // Renamed when renamed in LDAP; the PUT carries the full member list.
      source: LIFECYCLE,
      request: (ctx) => ({ method: "PUT", path: `/Groups/${ctx.get("group")}`, body: group(ctx.name("CN-pf-platform"), [ctx.get("user")]) }),
      expect: (res, ctx) => all(status(res, 200), equals(res, ["displayName"], ctx.name("CN-pf-platform")), members(res, [ctx.get("user")])),
    },
    {
      name: "delete group",
      source: LIFECYCLE,
      request: (ctx) => ({ method: "DELETE", path: `/Groups/${ctx.get("group")}` }),
      expect: (res) => status(res, 204),
    },
    {
      name: "deleted group is gone",
      source: LIFECYCLE,
      request: (ctx) => ({ method: "GET", path: `/Groups/${ctx.get("group")}` }),
      expect: (res) => status(res, 404),
    },
    {
      name: "delete user (Remove User Action = Delete)",
      source: SETTINGS,
      request: (ctx) => ({ method: "DELETE", path: `/Users/${ctx.get("user")}` }),
      expect: (res) => status(res, 204),
    },
    {
      name: "delete second user",
      source: SETTINGS,
      request: (ctx) => ({ method: "DELETE", path: `/Users/${ctx.get("user2")}` }),
      expect: (res) => status(res, 204),
    },
    {
      name: "deleted user is gone",
      source: SETTINGS,
      request: (ctx) => ({ method: "GET", path: `/Users/${ctx.get("user")}` }),
      expect: (res) => status(res, 404),
    },
  ],
};
