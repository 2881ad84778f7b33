/**
 * Okta's SCIM 2.0 client. Lookup `userName eq "…"&startIndex=1&count=100`; create with password
 * and groups:[]; AIW apps update (also deactivate) by PUT of the whole object read by GET; OIN
 * apps PATCH a path-less replace `{active:false}`. Okta never deletes users, so the users this
 * suite creates are removed by clean-up steps at the end. Groups are pushed with members:[].
 */
import type { Ctx, Suite } from "../types.js";
import { all, captureId, cleanup, equals, GROUP, hasId, json, list, members, noPassword, patched, patchOp, query, scimError, status, USER, verify } from "./common.js";

const SCIM20 = "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/";
const PREPARE = "https://developer.okta.com/docs/guides/scim-provisioning-integration-prepare/main/";
// "Push now" of an empty group sends replace members with value [].
const EMPTY_PUSH = "https://github.com/Captain-P-Goldfish/SCIM-SDK/issues/757";

const UA = { "User-Agent": "Okta SCIM Client 1.0.0" };
const userName = (ctx: Ctx) => `${ctx.name("okta.test.user")}@okta.local`;
const lookup = (name: string) => query("/Users", { filter: `userName eq "${name}"`, startIndex: 1, count: 100 });

const createBody = (name: string, externalId: string) => ({
  schemas: [USER],
  userName: name,
  name: { givenName: "Test", familyName: "User" },
  emails: [{ primary: true, value: name, type: "work" }],
  displayName: "Test User",
  locale: "en-US",
  externalId,
  groups: [],
  password: "1mz050nq",
  active: true,
});

const userPath = (ctx: Ctx) => `/Users/${ctx.get("user")}`;
const groupPath = (ctx: Ctx) => `/Groups/${ctx.get("group")}`;

export const okta: Suite = {
  client: "okta",
  steps: [
    {
      name: "lookup user by userName (no match: 200 with totalResults 0, or 404)",
      source: SCIM20,
      request: (ctx) => ({ method: "GET", path: lookup(userName(ctx)), headers: UA }),
      expect: (res) => (res.status === 404 ? scimError(res, 404) : list(res, [])),
    },
    {
      name: "create user (password, groups:[])",
      source: SCIM20,
      request: (ctx) => ({ method: "POST", path: "/Users", headers: UA, body: createBody(userName(ctx), `00u${ctx.run}`) }),
      // "Create new user returned empty user" when the body is missing.
      expect: (res, ctx) => all(status(res, 201), hasId(res), noPassword(res), equals(res, ["userName"], userName(ctx))),
      capture: captureId("user"),
    },
    {
      name: "create the same userName in other case: 409 with a SCIM error",
      // The Runscope suite's randomUsernameCaps checks userName case-insensitivity.
      source: PREPARE,
      request: (ctx) => ({ method: "POST", path: "/Users", headers: UA, body: createBody(userName(ctx).toUpperCase(), `00v${ctx.run}`) }),
      expect: (res) => scimError(res, 409, "uniqueness"),
    },
    {
      name: "lookup user by userName",
      source: SCIM20,
      request: (ctx) => ({ method: "GET", path: lookup(userName(ctx)), headers: UA }),
      expect: (res, ctx) => list(res, [ctx.get("user")]),
    },
    {
      name: "read user before update",
      source: SCIM20,
      request: (ctx) => ({ method: "GET", path: userPath(ctx), headers: UA }),
      expect: (res, ctx) => all(status(res, 200), equals(res, ["id"], ctx.get("user"))),
      capture: (res, ctx) => ctx.set("userBody", json(res)),
    },
    {
      name: "update user by PUT of the whole object (AIW; id, meta, groups included)",
      source: SCIM20,
      request: (ctx) => {
        const body = ctx.obj("userBody");
        body.name = { givenName: "Test", familyName: "Updated" };
        return { method: "PUT", path: userPath(ctx), headers: UA, body };
      },
      expect: (res) => all(status(res, 200), hasId(res), equals(res, ["name", "familyName"], "Updated")),
      capture: (res, ctx) => ctx.set("userBody", json(res)),
    },
    {
      name: "deactivate user by PUT active:false (AIW)",
      source: SCIM20,
      request: (ctx) => ({ method: "PUT", path: userPath(ctx), headers: UA, body: { ...ctx.obj("userBody"), active: false } }),
      expect: (res) => all(status(res, 200), equals(res, ["active"], false), equals(res, ["name", "familyName"], "Updated")),
    },
    {
      name: "activate user by PATCH replace value {active:true} (OIN)",
      source: SCIM20,
      request: (ctx) => ({ method: "PATCH", path: userPath(ctx), headers: UA, body: patchOp({ op: "replace", value: { active: true } }) }),
      expect: patched,
    },
    verify("user active after PATCH", SCIM20, userPath, (res) => equals(res, ["active"], true)),
    {
      name: "deactivate user by PATCH replace value {active:false} (OIN)",
      source: SCIM20,
      request: (ctx) => ({ method: "PATCH", path: userPath(ctx), headers: UA, body: patchOp({ op: "replace", value: { active: false } }) }),
      expect: patched,
    },
    verify("user inactive after PATCH, other attributes kept", SCIM20, userPath, (res) => all(equals(res, ["active"], false), equals(res, ["name", "familyName"], "Updated"))),
    {
      name: "import users: GET /Users?startIndex=1&count=100 (integer paging fields)",
      source: SCIM20,
      request: () => ({ method: "GET", path: query("/Users", { startIndex: 1, count: 100 }), headers: UA }),
      expect: (res) => list(res) ?? (json(res).startIndex === 1 ? undefined : `startIndex is ${JSON.stringify(json(res).startIndex)}, expected 1`),
    },
    {
      name: "create a second user",
      source: SCIM20,
      request: (ctx) => ({ method: "POST", path: "/Users", headers: UA, body: createBody(`${ctx.name("okta.second")}@okta.local`, `00w${ctx.run}`) }),
      expect: (res) => all(status(res, 201), hasId(res)),
      capture: captureId("user2"),
    },
    {
      name: "push group with members:[]",
      source: SCIM20,
      request: (ctx) => ({ method: "POST", path: "/Groups", headers: UA, body: { schemas: [GROUP], displayName: ctx.name("okta-group"), members: [] } }),
      expect: (res) => all(status(res, 201), hasId(res)),
      capture: captureId("group"),
    },
    {
      name: "list groups: GET /Groups?startIndex=1&count=100",
      source: SCIM20,
      request: () => ({ method: "GET", path: query("/Groups", { startIndex: 1, count: 100 }), headers: UA }),
      expect: (res) => list(res),
    },
    {
      name: "read group",
      source: SCIM20,
      request: (ctx) => ({ method: "GET", path: groupPath(ctx), headers: UA }),
      expect: (res, ctx) => all(status(res, 200), equals(res, ["displayName"], ctx.name("okta-group"))),
    },
    {
      name: "rename group by PATCH replace value {id, displayName}",
      source: SCIM20,
      request: (ctx) => ({
        method: "PATCH",
        path: groupPath(ctx),
        headers: UA,
        body: patchOp({ op: "replace", value: { id: ctx.get("group"), displayName: ctx.name("okta-group-renamed") } }),
      }),
      expect: patched,
    },
    verify("renamed group", SCIM20, groupPath, (res, ctx) => equals(res, ["displayName"], ctx.name("okta-group-renamed"))),
    {
      name: "add member: rename + add path members",
      // Okta resends the rename with every membership update.
      source: SCIM20,
      request: (ctx) => ({
        method: "PATCH",
        path: groupPath(ctx),
        headers: UA,
        body: patchOp(
          { op: "replace", value: { id: ctx.get("group"), displayName: ctx.name("okta-group-renamed") } },
          { op: "add", path: "members", value: [{ value: ctx.get("user"), display: userName(ctx) }] },
        ),
      }),
      expect: patched,
    },
    verify("group members after add", SCIM20, groupPath, (res, ctx) => members(res, [ctx.get("user")])),
    {
      name: 'change members: remove members[value eq "…"] + add members',
      source: SCIM20,
      request: (ctx) => ({
        method: "PATCH",
        path: groupPath(ctx),
        headers: UA,
        body: patchOp(
          { op: "remove", path: `members[value eq "${ctx.get("user")}"]` },
          { op: "add", path: "members", value: [{ value: ctx.get("user2"), display: `${ctx.name("okta.second")}@okta.local` }] },
        ),
      }),
      expect: patched,
    },
    verify("group members after remove + add", SCIM20, groupPath, (res, ctx) => members(res, [ctx.get("user2")])),
    {
      name: "push now of an empty group: replace members []",
      source: EMPTY_PUSH,
      request: (ctx) => ({ method: "PATCH", path: groupPath(ctx), headers: UA, body: patchOp({ op: "replace", path: "members", value: [] }) }),
      expect: patched,
    },
    verify("group has no members", EMPTY_PUSH, groupPath, (res) => members(res, [])),
    {
      name: "rename group by PUT (AIW)",
      source: SCIM20,
      request: (ctx) => ({ method: "PUT", path: groupPath(ctx), headers: UA, body: { schemas: [GROUP], id: ctx.get("group"), displayName: ctx.name("okta-group-aiw"), members: [] } }),
      expect: (res, ctx) => all(status(res, 200), equals(res, ["displayName"], ctx.name("okta-group-aiw"))),
    },
    {
      name: "delete group (unlink with delete)",
      source: SCIM20,
      request: (ctx) => ({ method: "DELETE", path: groupPath(ctx), headers: UA }),
      expect: (res) => status(res, 204),
    },
    {
      name: "deleted group is gone",
      source: SCIM20,
      request: (ctx) => ({ method: "GET", path: groupPath(ctx), headers: UA }),
      expect: (res) => status(res, 404),
    },
    // Okta never sends DELETE /Users: these only leave the server as the suite found it.
    cleanup("Users", "user"),
    cleanup("Users", "user2"),
  ],
};
