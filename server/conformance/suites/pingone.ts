/**
 * PingOne "SCIM Outbound" provisioning. Default user filter `username Eq "%s"` (lower-case
 * attribute, mixed-case operator); no PATCH for users, so update and disable are full PUTs, as in
 * PingFederate; group memberships are carried on the group.
 */
import type { Ctx, Suite } from "../types.js";
import { all, captureId, equals, GROUP, hasId, list, members, noPassword, query, status, USER } from "./common.js";

const FEATURES = "https://docs.pingidentity.com/pingone/integrations/p1_scim_provisioning_features.html";
const FILTERS = "https://docs.pingidentity.com/pingone/integrations/p1_scim_filter_expressions.html";
const DEFAULTS = "https://docs.pingidentity.com/integrations/code42-pingone/provisioning_setup/p1_code42_integration_creating_a_provisioning_connection_in_p1.html";
const LIMITATIONS = "https://docs.pingidentity.com/r/en-us/pingone/p1_scim_provisioning_limitations";
const MAPPING = "https://docs.pingidentity.com/integrations/code42-pingone/provisioning_setup/p1_code42_integration_configuring_attribute_mapping_on_the_provisioning_rule.html";
const GROUPS = "https://docs.pingidentity.com/pingone/integrations/p1_provisioning_configuring_outbound_group_provisioning.html";

const userName = (ctx: Ctx) => ctx.name("p1.mwilson");

/** The default mapping: userName, given/family name, work phone, work email (one value each). */
function user(ctx: Ctx, changes: { active?: boolean; familyName?: string } = {}) {
  return {
    schemas: [USER],
    userName: userName(ctx),
    externalId: `p1-${ctx.run}`,
    name: { givenName: "Mary", familyName: changes.familyName ?? "Wilson" },
    emails: [{ type: "work", value: `${userName(ctx)}@example.com`, primary: true }],
    phoneNumbers: [{ type: "work", value: "+1 555 0101", primary: true }],
    title: "Analyst",
    active: changes.active ?? true,
  };
}

const group = (displayName: string, ids: string[]) => ({ schemas: [GROUP], displayName, members: ids.map((value) => ({ value })) });

const filter = (ctx: Ctx) => query("/Users", { filter: `username Eq "${userName(ctx)}"` });

export const pingone: Suite = {
  client: "pingone",
  steps: [
    {
      name: 'lookup user by default filter username Eq "%s" (no match yet)',
      source: DEFAULTS,
      request: (ctx) => ({ method: "GET", path: filter(ctx) }),
      expect: (res) => list(res, []),
    },
    {
      name: "create user",
      source: MAPPING,
      request: (ctx) => ({ method: "POST", path: "/Users", body: user(ctx) }),
      expect: (res) => all(status(res, 201), hasId(res), noPassword(res)),
      capture: captureId("user"),
    },
    {
      name: 'lookup user by username Eq "%s"',
      source: FILTERS,
      request: (ctx) => ({ method: "GET", path: filter(ctx) }),
      expect: (res, ctx) => list(res, [ctx.get("user")]),
    },
    {
      name: "update user by PUT",
      // "The provisioner does not support patch updates to SCIM-enabled target applications."
      source: LIMITATIONS,
      request: (ctx) => ({ method: "PUT", path: `/Users/${ctx.get("user")}`, body: user(ctx, { familyName: "Wilson-Brown" }) }),
      expect: (res) => all(status(res, 200), hasId(res), equals(res, ["name", "familyName"], "Wilson-Brown")),
    },
    {
      name: "disable user by PUT active:false",
      // Remove Action = Disable (the default), as an update since users are never PATCHed.
      source: DEFAULTS,
      request: (ctx) => ({ method: "PUT", path: `/Users/${ctx.get("user")}`, body: user(ctx, { familyName: "Wilson-Brown", active: false }) }),
      expect: (res) => all(status(res, 200), equals(res, ["active"], false)),
    },
    {
      name: "disabled user is still found by filter",
      source: FILTERS,
      request: (ctx) => ({ method: "GET", path: filter(ctx) }),
      expect: (res, ctx) => list(res, [ctx.get("user")]),
    },
    {
      name: "re-enable user by PUT active:true",
      source: FEATURES,
      request: (ctx) => ({ method: "PUT", path: `/Users/${ctx.get("user")}`, body: user(ctx, { familyName: "Wilson-Brown", active: true }) }),
      expect: (res) => all(status(res, 200), equals(res, ["active"], true)),
    },
    {
      name: "create group with its memberships",
      // Group provisioning carries "group memberships" on the group.
      source: GROUPS,
      request: (ctx) => ({ method: "POST", path: "/Groups", body: group(ctx.name("p1-sales"), [ctx.get("user")]) }),
      expect: (res, ctx) => all(status(res, 201), hasId(res), members(res, [ctx.get("user")])),
      capture: captureId("group"),
    },
    {
      name: "overwrite group memberships by PUT (empty)",
      // An existing group's memberships are merged or overwritten; no PATCH (LIMITATIONS), so PUT.
      source: GROUPS,
      request: (ctx) => ({ method: "PUT", path: `/Groups/${ctx.get("group")}`, body: group(ctx.name("p1-sales"), []) }),
      expect: (res) => all(status(res, 200), members(res, [])),
    },
    {
      name: "rename group by PUT",
      source: GROUPS,
      request: (ctx) => ({ method: "PUT", path: `/Groups/${ctx.get("group")}`, body: group(ctx.name("p1-sales-emea"), [ctx.get("user")]) }),
      expect: (res, ctx) => all(status(res, 200), equals(res, ["displayName"], ctx.name("p1-sales-emea")), members(res, [ctx.get("user")])),
    },
    {
      name: "delete group",
      source: GROUPS,
      request: (ctx) => ({ method: "DELETE", path: `/Groups/${ctx.get("group")}` }),
      expect: (res) => status(res, 204),
    },
    {
      name: "delete user (Remove Action = Delete)",
      source: FEATURES,
      request: (ctx) => ({ method: "DELETE", path: `/Users/${ctx.get("user")}` }),
      expect: (res) => status(res, 204),
    },
    {
      name: "deleted user is not found by filter",
      source: FILTERS,
      request: (ctx) => ({ method: "GET", path: filter(ctx) }),
      expect: (res) => list(res, []),
    },
  ],
};
