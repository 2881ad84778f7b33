/**
 * The generic cases every client relies on, straight from RFC 7644/7643: discovery, filters
 * (and/or/not, valuePath), paging, attribute projection and error responses. Three users with
 * names unique to the run, so it works on a populated server; clean-up deletes them.
 */
import type { Ctx, Step, StepResponse, Suite } from "../types.js";
import { all, captureId, cleanup, equals, GROUP, hasId, json, list, query, resources, scimError, status, USER } from "./common.js";

const RFC7644 = "https://datatracker.ietf.org/doc/html/rfc7644";
const RFC7643 = "https://datatracker.ietf.org/doc/html/rfc7643";
const SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

const prefix = (ctx: Ctx) => `rfc-${ctx.run}-`;
const userName = (ctx: Ctx, who: "a" | "b" | "c") => `${prefix(ctx)}${who}`;

/** a: Engineer, active, work + home email; b: Engineer, inactive; c: Manager. */
function createUser(who: "a" | "b" | "c", title: string, active: boolean): Step {
  return {
    name: `create user ${who}`,
    source: `${RFC7644}#section-3.3`,
    request: (ctx) => {
      const emails: object[] = [{ type: "work", value: `${userName(ctx, who)}@example.com`, primary: true }];
      if (who === "a") emails.push({ type: "home", value: `${userName(ctx, who)}@home.example.org` });
      return { method: "POST", path: "/Users", body: { schemas: [USER], userName: userName(ctx, who), title, active, emails, name: { givenName: who, familyName: "Rfc" } } };
    },
    expect: (res) => all(status(res, 201), hasId(res)),
    capture: captureId(who),
  };
}

/** GET /Users?filter=… expecting exactly the named users. */
function filterStep(name: string, section: string, filter: (ctx: Ctx) => string, who: ("a" | "b" | "c")[]): Step {
  return {
    name,
    source: `${RFC7644}#section-${section}`,
    request: (ctx) => ({ method: "GET", path: query("/Users", { filter: filter(ctx) }) }),
    expect: (res, ctx) => list(res, who.map((w) => ctx.get(w))),
  };
}

const ids = (res: StepResponse) => resources(res).map((r) => String(r.id));
const inRun = (ctx: Ctx) => `userName sw "${prefix(ctx)}"`;

export const rfc: Suite = {
  client: "rfc",
  steps: [
    {
      name: "discovery: /ServiceProviderConfig",
      source: `${RFC7644}#section-4`,
      request: () => ({ method: "GET", path: "/ServiceProviderConfig" }),
      expect: (res) => {
        const b = json(res);
        const bad = status(res, 200) ?? (Array.isArray(b.schemas) && b.schemas.includes(SPC_SCHEMA) ? undefined : `schemas does not name ${SPC_SCHEMA}`);
        if (bad) return bad;
        // RFC 7643 §5: patch, bulk, filter, changePassword, sort, etag are required complex attributes.
        for (const k of ["patch", "bulk", "filter", "changePassword", "sort", "etag"]) {
          if (typeof (b[k] as { supported?: unknown } | undefined)?.supported !== "boolean") return `${k}.supported is not a boolean (RFC 7643 §5)`;
        }
        if (!Array.isArray(b.authenticationSchemes)) return "authenticationSchemes is not an array";
        return undefined;
      },
    },
    {
      name: "discovery: /ResourceTypes lists User and Group",
      source: `${RFC7644}#section-4`,
      request: () => ({ method: "GET", path: "/ResourceTypes" }),
      expect: (res) => {
        const bad = status(res, 200);
        if (bad) return bad;
        const types = resources(res);
        const user = types.find((t) => t.id === "User" || t.name === "User");
        const group = types.find((t) => t.id === "Group" || t.name === "Group");
        if (user?.endpoint !== "/Users" || user.schema !== USER) return `no User resource type with endpoint /Users and schema ${USER}`;
        if (group?.endpoint !== "/Groups" || group.schema !== GROUP) return `no Group resource type with endpoint /Groups and schema ${GROUP}`;
        return undefined;
      },
    },
    {
      name: "discovery: /ResourceTypes/User",
      source: `${RFC7644}#section-4`,
      request: () => ({ method: "GET", path: "/ResourceTypes/User" }),
      expect: (res) => all(status(res, 200), equals(res, ["endpoint"], "/Users")),
    },
    {
      // The enterprise extension is optional (RFC 7643 §4.3); User and Group are the core schemas.
      name: "discovery: /Schemas lists User and Group",
      source: `${RFC7643}#section-7`,
      request: () => ({ method: "GET", path: "/Schemas" }),
      expect: (res) => {
        const bad = status(res, 200);
        if (bad) return bad;
        const found = resources(res).map((s) => s.id);
        const missing = [USER, GROUP].filter((u) => !found.includes(u));
        return missing.length ? `missing schemas ${missing.join(", ")}` : undefined;
      },
    },
    {
      name: "discovery: /Schemas/{User URN} defines userName",
      source: `${RFC7643}#section-7`,
      request: () => ({ method: "GET", path: `/Schemas/${USER}` }),
      expect: (res) => {
        const attrs = json(res).attributes;
        const has = Array.isArray(attrs) && attrs.some((a: { name?: unknown }) => a.name === "userName");
        return status(res, 200) ?? (has ? undefined : "no userName attribute");
      },
    },
    createUser("a", "Engineer", true),
    createUser("b", "Engineer", false),
    createUser("c", "Manager", true),
    filterStep("filter: and", "3.4.2.2", (ctx) => `${inRun(ctx)} and title eq "Engineer"`, ["a", "b"]),
    filterStep("filter: or", "3.4.2.2", (ctx) => `userName eq "${userName(ctx, "a")}" or userName eq "${userName(ctx, "c")}"`, ["a", "c"]),
    filterStep("filter: not ( )", "3.4.2.2", (ctx) => `${inRun(ctx)} and not (title eq "Engineer")`, ["c"]),
    filterStep("filter: precedence of and over or, with grouping", "3.4.2.2", (ctx) => `${inRun(ctx)} and (title eq "Manager" or active eq false)`, ["b", "c"]),
    filterStep("filter: boolean attribute", "3.4.2.2", (ctx) => `${inRun(ctx)} and active eq false`, ["b"]),
    filterStep("filter: valuePath emails[type eq \"home\" and value co …]", "3.4.2.2", (ctx) => `emails[type eq "home" and value co "${prefix(ctx)}"]`, ["a"]),
    filterStep("filter: sub-attribute emails.value ew", "3.4.2.2", (ctx) => `emails.value ew "@home.example.org" and ${inRun(ctx)}`, ["a"]),
    filterStep("filter: attribute names and operators are case-insensitive", "3.4.2.2", (ctx) => `USERNAME EQ "${userName(ctx, "c").toUpperCase()}"`, ["c"]),
    filterStep("filter: pr", "3.4.2.2", (ctx) => `${inRun(ctx)} and title pr`, ["a", "b", "c"]),
    {
      name: "paging: first page of 2 (integer fields, totalResults of all matches)",
      source: `${RFC7644}#section-3.4.2.4`,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: inRun(ctx), startIndex: 1, count: 2 }) }),
      expect: (res) =>
        list(res) ??
        all(equals(res, ["totalResults"], 3), equals(res, ["startIndex"], 1), equals(res, ["itemsPerPage"], 2), resources(res).length === 2 ? undefined : `${resources(res).length} resources on the page, expected 2`),
      capture: (res, ctx) => ctx.set("page1", ids(res).join(" ")),
    },
    {
      name: "paging: second page completes the set without repeats (stable order)",
      source: `${RFC7644}#section-3.4.2.4`,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: inRun(ctx), startIndex: 3, count: 2 }) }),
      expect: (res, ctx) => {
        const bad = list(res) ?? all(equals(res, ["totalResults"], 3), equals(res, ["startIndex"], 3), equals(res, ["itemsPerPage"], 1));
        if (bad) return bad;
        const seen = [...ctx.get("page1").split(" "), ...ids(res)];
        const want = ["a", "b", "c"].map((w) => ctx.get(w));
        return new Set(seen).size === 3 && want.every((id) => seen.includes(id)) ? undefined : `pages 1 and 2 hold ${JSON.stringify(seen)}, expected each of ${JSON.stringify(want)} once`;
      },
    },
    {
      name: "paging: count=0 returns totalResults only",
      source: `${RFC7644}#section-3.4.2.4`,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: inRun(ctx), count: 0 }) }),
      expect: (res) => list(res) ?? all(equals(res, ["totalResults"], 3), resources(res).length === 0 ? undefined : "resources returned for count=0"),
    },
    {
      name: "attributes=userName returns userName and id only",
      source: `${RFC7644}#section-3.9`,
      request: (ctx) => ({ method: "GET", path: query(`/Users/${ctx.get("a")}`, { attributes: "userName" }) }),
      expect: (res, ctx) => {
        const b = json(res);
        const bad = status(res, 200) ?? equals(res, ["userName"], userName(ctx, "a")) ?? equals(res, ["id"], ctx.get("a"));
        return bad ?? (["title", "emails", "name", "active"].find((k) => k in b) ? `returned ${Object.keys(b).join(", ")}` : undefined);
      },
    },
    {
      name: "excludedAttributes=emails leaves emails out",
      source: `${RFC7644}#section-3.9`,
      request: (ctx) => ({ method: "GET", path: query(`/Users/${ctx.get("a")}`, { excludedAttributes: "emails" }) }),
      expect: (res) => all(status(res, 200), "emails" in json(res) ? "emails returned" : undefined, equals(res, ["title"], "Engineer"), hasId(res)),
    },
    {
      name: "attributes on a list applies to every resource",
      source: `${RFC7644}#section-3.4.2.5`,
      request: (ctx) => ({ method: "GET", path: query("/Users", { filter: inRun(ctx), attributes: "userName" }) }),
      expect: (res) => list(res) ?? (resources(res).some((r) => "title" in r || "emails" in r) ? "resources carry attributes not asked for" : undefined),
    },
    {
      name: "error: unknown id is 404 with an Error body",
      source: `${RFC7644}#section-3.12`,
      request: (ctx) => ({ method: "GET", path: `/Users/no-such-id-${ctx.run}` }),
      expect: (res) => scimError(res, 404),
    },
    {
      name: "error: userName taken in other case is 409 uniqueness",
      // userName is caseExact false and unique (RFC 7643 §4.1.1).
      source: `${RFC7644}#section-3.3`,
      request: (ctx) => ({ method: "POST", path: "/Users", body: { schemas: [USER], userName: userName(ctx, "a").toUpperCase() } }),
      expect: (res) => scimError(res, 409, "uniqueness"),
    },
    {
      name: "error: a malformed filter is 400 invalidFilter",
      source: `${RFC7644}#section-3.4.2.2`,
      request: () => ({ method: "GET", path: query("/Users", { filter: 'userName eq "unterminated' }) }),
      expect: (res) => scimError(res, 400, "invalidFilter"),
    },
    {
      // scimType is OPTIONAL (RFC 7644 §3.12); checks' errors.not-json-scimtype warns on it.
      name: "error: a body that is not JSON is 400",
      source: `${RFC7644}#section-3.12`,
      request: () => ({ method: "POST", path: "/Users", body: '{"schemas": [' }),
      expect: (res) => scimError(res, 400),
    },
    {
      name: "error: a PatchOp without Operations is 400",
      source: `${RFC7644}#section-3.5.2`,
      request: (ctx) => ({ method: "PATCH", path: `/Users/${ctx.get("a")}`, body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"] } }),
      expect: (res) => scimError(res, 400),
    },
    {
      name: "error: no credentials is 401 with WWW-Authenticate",
      // RFC 7644 §2 defers to HTTP authentication; RFC 7235 §3.1 requires the challenge.
      source: `${RFC7644}#section-2`,
      request: () => ({ method: "GET", path: "/Users", anonymous: true }),
      expect: (res) => status(res, 401) ?? (res.headers.get("www-authenticate") ? undefined : "no WWW-Authenticate header"),
    },
    cleanup("Users", "a"),
    cleanup("Users", "b"),
    cleanup("Users", "c"),
  ],
};
