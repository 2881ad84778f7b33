/** Error responses (RFC 7644 §3.12): status, SCIM Error body and scimType. */
import type { Check } from "../types.js";
import { USER } from "../suites/common.js";
import { createUser, RFC7644, scimError } from "./support.js";
import { attr } from "../compare.js";

export const errorChecks: Check[] = [
  {
    id: "errors.unknown-id-404",
    area: "errors",
    title: "an unknown id is 404 with a SCIM Error body",
    source: `${RFC7644}#section-3.12`,
    level: "must",
    async run(http, ctx) {
      return scimError(await http.send({ method: "GET", path: `/Users/no-such-id-${ctx.run}` }), 404);
    },
  },
  {
    id: "errors.duplicate-username-409",
    area: "errors",
    title: "a taken userName is 409 uniqueness",
    source: `${RFC7644}#section-3.3`,
    level: "must",
    async run(http, ctx) {
      const { body } = await createUser(http, ctx, "taken");
      return scimError(await http.send({ method: "POST", path: "/Users", body: { schemas: [USER], userName: attr(body, "userName") } }), 409, "uniqueness");
    },
  },
  {
    id: "errors.not-json-400",
    area: "errors",
    title: "a body that is not JSON is 400 with a SCIM Error body",
    source: `${RFC7644}#section-3.12`,
    level: "must",
    async run(http) {
      return scimError(await http.send({ method: "POST", path: "/Users", body: '{"schemas": [' }), 400);
    },
  },
  {
    id: "errors.not-json-scimtype",
    area: "errors",
    title: "a body that is not JSON names scimType invalidSyntax",
    // scimType is OPTIONAL in RFC 7644 §3.12, so its absence is a warning.
    source: `${RFC7644}#section-3.12`,
    level: "should",
    async run(http) {
      return scimError(await http.send({ method: "POST", path: "/Users", body: '{"schemas": [' }), 400, "invalidSyntax");
    },
  },
  {
    id: "errors.missing-username-400",
    area: "errors",
    title: "a user without userName is 400",
    // RFC 7643 §4.1.1: userName is REQUIRED.
    source: `${RFC7644}#section-3.3`,
    level: "must",
    async run(http) {
      return scimError(await http.send({ method: "POST", path: "/Users", body: { schemas: [USER], title: "no name" } }), 400);
    },
  },
];
