/**
 * What the fuzzer throws at the app, one arbitrary per surface: filters (RFC 7644 §3.4.2.2),
 * PATCH bodies (§3.5.2), Bulk requests (§3.7), request bodies in odd encodings (RFC 8259 §8.1,
 * RFC 9110 §8.4), and query strings. Generated from the grammar's pieces and from noise, so both
 * near-valid and hostile inputs come up.
 */
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { BULK, JSON_TYPE, PATCH_OP, USER, type Sent } from "./harness.js";

const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

export interface Ids {
  userId: string;
  groupId: string;
}

const attrPath = fc.constantFrom(
  "userName", "displayName", "emails", "emails.value", 'emails[type eq "work"].value', "emails[type eq \"work\"]", "name.givenName", "name",
  "active", "title", "meta.lastModified", "meta.created", "id", "externalId", "members", "members.value", "groups", "groups.display",
  `${ENTERPRISE}:employeeNumber`, `${ENTERPRISE}:manager.value`, `${ENTERPRISE}:manager`, ENTERPRISE, "phoneNumbers", "addresses[type eq \"work\"].locality",
  "x", "", "emails[", "emails]x", "emails[value co \"a\"]", 'members[value eq "x"]', "urn:x:y", "name.givenName.x", "$ref", "emails[type eq \"work\" and value sw \"a\"].primary",
);
const compareOp = fc.constantFrom("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Eq", "xx");
const literal = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: "grapheme", maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom("true", "false", "null", '"2020-01-01T00:00:00Z"', "9223372036854775808", "1e400", '"\\u0000"', '"\\ud800"', "bare"),
);
const token = fc.oneof(attrPath, compareOp, literal, fc.constantFrom("pr", "and", "or", "not", "(", ")", "[", "]", '"', "\\", "not(", ")]", " ", "\t"), fc.string({ maxLength: 6 }));

/** Filters: grammar-shaped trees, token soup, and raw noise. */
export const filterText: fc.Arbitrary<string> = fc.oneof(
  fc.letrec((tie) => ({
    f: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.tuple(attrPath, compareOp, literal).map(([a, o, v]) => `${a} ${o} ${v}`),
      attrPath.map((a) => `${a} pr`),
      fc.tuple(tie("f"), fc.constantFrom("and", "or", "AND", "Or"), tie("f")).map(([l, o, r]) => `${l} ${o} ${r}`),
      tie("f").map((f) => `not (${f})`),
      tie("f").map((f) => `(${f})`),
      fc.tuple(fc.constantFrom("emails", "members", "addresses", "groups", "x"), tie("f")).map(([a, f]) => `${a}[${f}]`),
    ),
  })).f as fc.Arbitrary<string>,
  fc.array(token, { maxLength: 25 }).map((a) => a.join(" ")),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 1, max: 200 }).map((n) => `${"(".repeat(n)}userName pr${")".repeat(n)}`),
  fc.integer({ min: 1, max: 300 }).map((n) => Array.from({ length: n }, (_, i) => `userName eq "u${i}"`).join(" or ")),
);

export function filterRequests(): fc.Arbitrary<Sent> {
  const resource = fc.constantFrom("/scim/v2/Users", "/scim/v2/Groups");
  return fc.oneof(
    fc.tuple(resource, filterText).map(([p, f]) => ({ method: "GET", path: `${p}?filter=${encodeURIComponent(f)}` })),
    fc.tuple(fc.constantFrom("/scim/v2/Users/.search", "/scim/v2/Groups/.search", "/scim/v2/.search"), filterText, fc.option(attrPath)).map(([p, f, s]) => ({
      method: "POST",
      path: p,
      headers: JSON_TYPE,
      body: JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], filter: f, ...(s !== null ? { sortBy: s } : {}) }),
    })),
  );
}

const emailValue = fc.record({ value: fc.oneof(fc.emailAddress(), fc.string({ maxLength: 10 })), type: fc.constantFrom("work", "home", "other", 5), primary: fc.oneof(fc.boolean(), fc.constantFrom("True", "False", "x")) }, { requiredKeys: [] });
const patchValue = (ids: Ids) =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(emailValue, { maxLength: 4 }),
    emailValue,
    fc.array(fc.record({ value: fc.oneof(fc.constantFrom(ids.userId, ids.groupId, "nope"), fc.string({ maxLength: 8 })), display: fc.string({ maxLength: 5 }) }, { requiredKeys: [] }), { maxLength: 4 }),
    fc.record({ givenName: fc.string({ maxLength: 8 }), familyName: fc.constant(null), formatted: fc.integer() }, { requiredKeys: [] }),
    fc.dictionary(attrPath, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    fc.record({ [ENTERPRISE]: fc.dictionary(fc.constantFrom("employeeNumber", "manager", "department", "x"), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) }),
  );

export const patchBody = (ids: Ids) => {
  const op = fc.record(
    {
      op: fc.oneof(fc.constantFrom("add", "replace", "remove", "Add", "Replace", "REMOVE", "bogus", ""), fc.jsonValue({ maxDepth: 1 })),
      path: fc.oneof(attrPath, fc.tuple(fc.constantFrom("emails", "members", "addresses"), filterText).map(([a, f]) => `${a}[${f}]`), fc.string({ maxLength: 20 }), fc.constant(null), fc.integer()),
      value: patchValue(ids),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ schemas: fc.constantFrom([PATCH_OP], ["x"], PATCH_OP), Operations: fc.array(op, { maxLength: 8 }) }, { requiredKeys: ["Operations"] }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.record({ schemas: fc.constant([PATCH_OP]), operations: fc.jsonValue({ maxDepth: 2 }) }) },
  );
};

export function patchRequests(ids: Ids): fc.Arbitrary<Sent> {
  const target = fc.constantFrom(`/scim/v2/Users/${ids.userId}`, `/scim/v2/Groups/${ids.groupId}`, "/scim/v2/Users/missing", `/scim/v2/Groups/${ids.userId}`);
  return fc.tuple(target, patchBody(ids), fc.option(fc.constantFrom("*", 'W/"1"', '"x"', "return=minimal"))).map(([path, body, h]) => ({
    method: "PATCH",
    path,
    headers: { ...JSON_TYPE, ...(h === "return=minimal" ? { Prefer: h } : h !== null ? { "If-Match": h } : {}) },
    body: JSON.stringify(body),
  }));
}

export function bulkRequests(ids: Ids): fc.Arbitrary<Sent> {
  const bulkId = fc.constantFrom("a", "b", "c", "");
  const data = fc.oneof(
    fc.record({ schemas: fc.constant([USER]), userName: fc.string({ minLength: 1, maxLength: 12 }), emails: fc.array(emailValue, { maxLength: 2 }) }, { requiredKeys: ["schemas"] }),
    fc.record({ schemas: fc.constant([GROUP]), displayName: fc.string({ maxLength: 12 }), members: fc.array(fc.record({ value: fc.oneof(bulkId.map((b) => `bulkId:${b}`), fc.constantFrom(ids.userId, ids.groupId, "x")) }), { maxLength: 3 }) }, { requiredKeys: ["schemas"] }),
    patchBody(ids),
    fc.jsonValue({ maxDepth: 3 }),
  );
  const path = fc.oneof(
    fc.constantFrom("/Users", "/Groups", `/Users/${ids.userId}`, `/Groups/${ids.groupId}`, "/Users/bulkId:a", "/Groups/bulkId:b", "bulkId:a", "/Bulk", "/", "", "/Users/", "//Users"),
    fc.string({ maxLength: 15 }),
  );
  const op = fc.record(
    { method: fc.oneof(fc.constantFrom("POST", "PUT", "PATCH", "DELETE", "GET", "post", "HEAD"), fc.jsonValue({ maxDepth: 1 })), path, bulkId, data, version: fc.oneof(fc.constantFrom('W/"1"', "*"), fc.string({ maxLength: 4 })) },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    { weight: 5, arbitrary: fc.record({ schemas: fc.constantFrom([BULK], ["x"]), Operations: fc.array(op, { maxLength: 8 }), failOnErrors: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: ["Operations"] }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 45, max: 60 }).map((n) => ({ schemas: [BULK], Operations: Array.from({ length: n }, (_, i) => ({ method: "POST", path: "/Users", bulkId: `u${i}`, data: { schemas: [USER], userName: `bulk${i}-${Math.random()}` } })) })) },
  );
  return body.map((b) => ({ method: "POST", path: "/scim/v2/Bulk", headers: JSON_TYPE, body: JSON.stringify(b) }));
}

/** A valid user document, then encoded, compressed, mislabelled or cut. */
export function encodingRequests(): fc.Arbitrary<Sent> {
  const doc = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).map((n) => JSON.stringify({ schemas: [USER], userName: `enc-${n}-${Math.random()}` }));
  const contentType = fc.constantFrom(
    "application/scim+json", "application/json", "application/scim+json; charset=utf-8", 'application/json; charset="UTF-8"', "application/json; charset=utf-16le",
    "application/json; charset=iso-8859-1", "application/json; charset=bogus", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/json;;;", "*/*",
  );
  const encode = fc.constantFrom("utf8", "bom", "utf16le", "latin1", "gzip", "deflate", "br", "gzip-garbage", "truncate", "nul", "deep", "bytes");
  return fc.tuple(doc, contentType, encode, fc.uint8Array({ maxLength: 200 }), fc.constantFrom("gzip", "deflate", "br", "identity", "gzip, gzip", "compress", "x", undefined)).map(([text, ct, enc, bytes, ce]) => {
    let body: Buffer;
    const headers: Record<string, string> = ct ? { "Content-Type": ct } : {};
    switch (enc) {
      case "bom": body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]); break;
      case "utf16le": body = Buffer.from(text, "utf16le"); break;
      case "latin1": body = Buffer.from(text, "latin1"); break;
      case "gzip": body = gzipSync(text); headers["Content-Encoding"] = "gzip"; break;
      case "deflate": body = deflateSync(text); headers["Content-Encoding"] = "deflate"; break;
      case "br": body = brotliCompressSync(text); headers["Content-Encoding"] = "br"; break;
      case "gzip-garbage": body = Buffer.from(bytes); headers["Content-Encoding"] = ce ?? "gzip"; break;
      case "truncate": body = Buffer.from(text).subarray(0, Math.max(1, Math.floor(text.length / 2))); break;
      case "nul": body = Buffer.from(text.replace("enc-", "enc-\u0000")); break;
      case "deep": body = Buffer.from(`{"schemas":["${USER}"],"userName":"deep","title":${"[".repeat(bytes.length * 100)}${"]".repeat(bytes.length * 100)}}`); break;
      case "bytes": body = Buffer.from(bytes); break;
      default: body = Buffer.from(text);
    }
    return { method: "POST", path: "/scim/v2/Users", headers, body };
  });
}

const queryKey = fc.oneof(fc.constantFrom("filter", "startIndex", "count", "sortBy", "sortOrder", "attributes", "excludedAttributes", "FILTER", "StartIndex", "attributes[]", "filter[a]", "__proto__", "constructor"), fc.string({ maxLength: 8 }));
const queryValue = fc.oneof(
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.constantFrom("9223372036854775808", "18446744073709551616", "-1", "0", "1e400", "NaN", "0x10", "%20%205%20", "1.5", "-9223372036854775809", "Infinity", "", "descending", "userName,emails.value", "%", "%zz", "%E0%A4%A", "%00", "%ff%fe", "%C0%AF", "+", "a=b=c"),
  fc.array(attrPath, { maxLength: 200 }).map((a) => encodeURIComponent(a.join(","))),
  fc.string({ unit: "binary", maxLength: 10 }).map(encodeURIComponent),
);

export function queryRequests(ids: Ids): fc.Arbitrary<Sent> {
  const path = fc.oneof(
    fc.constantFrom("/scim/v2/Users", "/scim/v2/Groups", `/scim/v2/Users/${ids.userId}`, `/scim/v2/Groups/${ids.groupId}`, "/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas", "/scim/v2/ResourceTypes/User", "/scim/v2//Users/", "/scim/v2/Users/%", "/scim/v2/Users/%E0%A4%A", "/scim/v2/Me", "/scim/v2/Bulk"),
    fc.string({ maxLength: 12 }).map((s) => `/scim/v2/Users/${encodeURIComponent(s)}`),
  );
  return fc.tuple(path, fc.array(fc.tuple(queryKey, queryValue), { maxLength: 6 }), fc.constantFrom("GET", "DELETE", "HEAD", "OPTIONS", "PUT")).map(([p, q, method]) => ({
    method,
    path: q.length ? `${p}?${q.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join("&")}` : p,
    ...(method === "PUT" ? { headers: JSON_TYPE, body: "{}" } : {}),
  }));
}

export const PROPERTIES = {
  filters: (_ids: Ids) => filterRequests(),
  patch: patchRequests,
  bulk: bulkRequests,
  encodings: (_ids: Ids) => encodingRequests(),
  queries: queryRequests,
} as const;
