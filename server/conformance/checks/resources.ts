/** Create, replace, delete, projection (attributes/excludedAttributes) and encoding checks. */
import type { Check } from "../types.js";
import { attr, sameMeaning } from "../compare.js";
import { USER } from "../suites/common.js";
import { body, createUser, expectStatus, listed, missingAlways, q, read, RFC7643, RFC7644, RFC8259, scimError, uniqueName } from "./support.js";

export const resourceChecks: Check[] = [
  {
    id: "crud.create-201-location",
    area: "crud",
    title: "create answers 201 with Location equal to meta.location",
    // RFC 7644 §3.3: the URI of the created resource SHALL be in the Location header and meta.location.
    source: `${RFC7644}#section-3.3`,
    level: "must",
    async run(http, ctx) {
      const { body: b, res } = await createUser(http, ctx, "loc");
      const location = res.headers.get("location");
      const meta = attr(attr(b, "meta"), "location");
      if (!location) return "the 201 has no Location header";
      if (typeof meta !== "string") return "the created resource has no meta.location";
      return new URL(location, "http://x/").href === new URL(meta, "http://x/").href ? undefined : `Location ${location} differs from meta.location ${meta}`;
    },
  },
  {
    id: "crud.create-returns-what-was-sent",
    area: "crud",
    title: "the created user reads back with what was sent (compared by meaning)",
    source: `${RFC7644}#section-3.3`,
    level: "must",
    async run(http, ctx) {
      const emails = [{ value: `w-${ctx.run}@example.com`, type: "work" }, { value: `h-${ctx.run}@example.org`, type: "home" }];
      const { id } = await createUser(http, ctx, "rt", { emails, title: "Engineer" });
      const got = await read(http, `/Users/${id}`);
      if (!sameMeaning(attr(got, "title"), "Engineer")) return `title reads ${JSON.stringify(attr(got, "title"))}`;
      const gotEmails = (attr(got, "emails") as unknown[] | undefined)?.map((e) => ({ value: attr(e, "value"), type: attr(e, "type") }));
      return sameMeaning(gotEmails, emails) ? undefined : `emails read ${JSON.stringify(gotEmails)}`;
    },
  },
  {
    id: "crud.replace-put",
    area: "crud",
    title: "PUT replaces the resource and answers 200 with it",
    source: `${RFC7644}#section-3.5.1`,
    level: "must",
    async run(http, ctx) {
      const { id, body: b } = await createUser(http, ctx, "put", { title: "Before" });
      const res = await http.send({ method: "PUT", path: `/Users/${id}`, body: { schemas: [USER], userName: attr(b, "userName"), title: "After" } });
      const bad = expectStatus(res, 200);
      if (bad) return bad;
      const got = await read(http, `/Users/${id}`);
      return attr(got, "title") === "After" ? undefined : `title reads ${JSON.stringify(attr(got, "title"))} after PUT`;
    },
  },
  {
    id: "crud.delete-then-404",
    area: "crud",
    title: "DELETE answers 204, then GET answers 404",
    source: `${RFC7644}#section-3.6`,
    level: "must",
    async run(http, ctx) {
      const { id } = await createUser(http, ctx, "del");
      const res = await http.send({ method: "DELETE", path: `/Users/${id}` });
      const bad = expectStatus(res, 204);
      if (bad) return bad;
      return scimError(await http.send({ method: "GET", path: `/Users/${id}` }), 404);
    },
  },
  {
    id: "projection.attributes-keeps-id-schemas",
    area: "projection",
    title: "attributes=userName still returns id and schemas",
    // RFC 7643 §7 returned "always"; §3: id and schemas are always returned.
    source: `${RFC7643}#section-7`,
    level: "must",
    async run(http, ctx) {
      const { id } = await createUser(http, ctx, "attrs", { title: "T" });
      const res = await http.send({ method: "GET", path: q(`/Users/${id}`, { attributes: "userName" }) });
      const b = body(res);
      return expectStatus(res, 200) ?? missingAlways(b) ?? (attr(b, "title") !== undefined ? "title returned although not asked for" : undefined);
    },
  },
  {
    id: "projection.excluded-keeps-id-schemas",
    area: "projection",
    title: "excludedAttributes=id,schemas,title still returns id and schemas",
    source: `${RFC7643}#section-7`,
    level: "must",
    async run(http, ctx) {
      const { id } = await createUser(http, ctx, "excl", { title: "T" });
      const res = await http.send({ method: "GET", path: q(`/Users/${id}`, { excludedAttributes: "id,schemas,title" }) });
      const b = body(res);
      return expectStatus(res, 200) ?? missingAlways(b) ?? (attr(b, "title") !== undefined ? "title returned although excluded" : undefined);
    },
  },
  {
    id: "projection.list-attributes-keeps-id-schemas",
    area: "projection",
    title: "attributes= on a list keeps id and schemas on every resource",
    source: `${RFC7644}#section-3.4.2.5`,
    level: "must",
    requires: "filter",
    async run(http, ctx) {
      const { body: b } = await createUser(http, ctx, "lattrs");
      const res = await http.send({ method: "GET", path: q("/Users", { filter: `userName eq "${String(attr(b, "userName"))}"`, attributes: "userName" }) });
      const items = listed(res);
      if (items.length !== 1) return `expected 1 resource, got ${items.length}`;
      return expectStatus(res, 200) ?? missingAlways(items[0]);
    },
  },
  {
    id: "encoding.invalid-utf8-400",
    area: "encoding",
    title: "a body that is not valid UTF-8 is refused with 400",
    // RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8; RFC 7644 §3.12 invalidSyntax.
    source: `${RFC8259}#section-8.1`,
    level: "must",
    async run(http, ctx) {
      const text = Buffer.from(JSON.stringify({ schemas: [USER], userName: `${uniqueName(ctx, "utf8")}-XX` }));
      const at = text.indexOf("-XX");
      text[at + 1] = 0xc3; // a lead byte followed by an ASCII byte: not UTF-8
      text[at + 2] = 0x28;
      const res = await http.send({ method: "POST", path: "/Users", body: new Uint8Array(text) });
      return expectStatus(res, 400);
    },
  },
  {
    id: "encoding.special-characters-round-trip",
    area: "encoding",
    title: 'a userName with \\ " and non-ASCII reads back unchanged, by id and by filter',
    // RFC 7644 §3.4.2.2: filter values are JSON strings (RFC 8259 §7 escapes).
    source: `${RFC7644}#section-3.4.2.2`,
    level: "must",
    async run(http, ctx) {
      const name = `${uniqueName(ctx, "esc")}-a\\b"c-Zoë`;
      const res = await http.send({ method: "POST", path: "/Users", body: { schemas: [USER], userName: name } });
      const id = attr(res.body, "id");
      if (res.status !== 201 || typeof id !== "string") return `creating userName ${JSON.stringify(name)} answered ${res.status}`;
      const got = await read(http, `/Users/${id}`);
      if (attr(got, "userName") !== name) return `userName reads back as ${JSON.stringify(attr(got, "userName"))}, sent ${JSON.stringify(name)}`;
      const found = await http.send({ method: "GET", path: q("/Users", { filter: `userName eq ${JSON.stringify(name)}` }) });
      const ids = listed(found).map((r) => attr(r, "id"));
      return expectStatus(found, 200) ?? (ids.length === 1 && ids[0] === id ? undefined : `filter userName eq ${JSON.stringify(name)} found ${JSON.stringify(ids)}`);
    },
  },
];
