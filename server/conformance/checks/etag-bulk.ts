/** Versions (ETag, If-Match, If-None-Match) and Bulk with bulkId references. */
import type { Check } from "../types.js";
import { attr } from "../compare.js";
import { GROUP, USER } from "../suites/common.js";
import { body, createUser, expectStatus, memberValues, read, RFC7232, RFC7644, uniqueName } from "./support.js";

export const etagBulkChecks: Check[] = [
  {
    id: "etag.if-match-mismatch-412",
    area: "etag",
    title: "PUT with an If-Match that matches no version answers 412 and changes nothing",
    // RFC 7232 §3.1: an origin server MUST NOT perform the method when If-Match is false (412);
    // this holds whether or not the server issues ETags. RFC 7644 §3.14.
    source: `${RFC7232}#section-3.1`,
    level: "must",
    async run(http, ctx) {
      const { id, body: b } = await createUser(http, ctx, "ifm", { title: "Before" });
      const res = await http.send({ method: "PUT", path: `/Users/${id}`, headers: { "If-Match": 'W/"no-such-version"' }, body: { schemas: [USER], userName: attr(b, "userName"), title: "After" } });
      const after = attr(await read(http, `/Users/${id}`), "title");
      return expectStatus(res, 412) ?? (after === "Before" ? undefined : "the resource changed anyway");
    },
  },
  {
    id: "etag.if-match-current-succeeds",
    area: "etag",
    title: "PATCH with If-Match of the current ETag succeeds",
    source: `${RFC7644}#section-3.14`,
    level: "must",
    requires: "etag",
    async run(http, ctx) {
      const { id } = await createUser(http, ctx, "ifm2");
      const got = await http.send({ method: "GET", path: `/Users/${id}` });
      const etag = got.headers.get("etag");
      if (!etag) return "GET by id sent no ETag header although etag.supported is true";
      const version = attr(attr(got.body, "meta"), "version");
      if (version !== undefined && version !== etag) return `ETag ${etag} differs from meta.version ${JSON.stringify(version)}`;
      const res = await http.send({ method: "PATCH", path: `/Users/${id}`, headers: { "If-Match": etag }, body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: "title", value: "X" }] } });
      return expectStatus(res, 200, 204);
    },
  },
  {
    id: "etag.if-none-match-304",
    area: "etag",
    title: "GET with If-None-Match of the current ETag answers 304",
    source: `${RFC7644}#section-3.14`,
    level: "should",
    requires: "etag",
    async run(http, ctx) {
      const { id } = await createUser(http, ctx, "inm");
      const etag = (await http.send({ method: "GET", path: `/Users/${id}` })).headers.get("etag");
      if (!etag) return "no ETag header";
      return expectStatus(await http.send({ method: "GET", path: `/Users/${id}`, headers: { "If-None-Match": etag } }), 304);
    },
  },
  {
    id: "bulk.bulkid-reference",
    area: "bulk",
    title: "Bulk creates a user and a group whose member is bulkId:<user>",
    source: `${RFC7644}#section-3.7`,
    level: "must",
    requires: "bulk",
    async run(http, ctx) {
      const userName = uniqueName(ctx, "bulk");
      const res = await http.send({
        method: "POST",
        path: "/Bulk",
        body: {
          schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
          Operations: [
            { method: "POST", path: "/Users", bulkId: "u1", data: { schemas: [USER], userName } },
            { method: "POST", path: "/Groups", bulkId: "g1", data: { schemas: [GROUP], displayName: `${userName}-g`, members: [{ value: "bulkId:u1" }] } },
          ],
        },
      });
      const bad = expectStatus(res, 200);
      if (bad) return bad;
      const ops = (attr(body(res), "Operations") as unknown[] | undefined) ?? [];
      const locations = ops.map((o) => ({ status: String(attr(o, "status")), location: String(attr(o, "location") ?? "") }));
      if (ops.length !== 2 || locations.some((l) => !l.status.startsWith("201"))) return `operations answered ${JSON.stringify(locations)}`;
      const userId = locations[0]!.location.split("/").pop()!;
      const groupId = locations[1]!.location.split("/").pop()!;
      const members = memberValues(await read(http, `/Groups/${groupId}`));
      // The run deletes what it creates; Bulk creations are not seen by that bookkeeping.
      await http.send({ method: "DELETE", path: `/Groups/${groupId}` });
      await http.send({ method: "DELETE", path: `/Users/${userId}` });
      return members.length === 1 && members[0] === userId ? undefined : `the group's members are ${JSON.stringify(members)}, expected [${userId}]`;
    },
  },
];
