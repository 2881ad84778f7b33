/** classify (pure): request shapes from docs/research/idp-traffic.md, RFC or dialect, with their sources. */
import { describe, expect, it } from "vitest";
import { classify, type Exchange } from "../../server/conformance/clients/classify.js";
import { SOURCES } from "../../server/conformance/clients/sources.js";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const x = (method: string, path: string, requestBody: unknown = null, status = 200): Exchange => ({ time: "2026-01-01T00:00:00Z", method, path, status, requestBody, responseBody: null });
const patch = (path: string, ...ops: object[]) => x("PATCH", path, { schemas: [PATCH_OP], Operations: ops });

describe("classify", () => {
  const cases: [string, Exchange, { standard: boolean; dialect?: string; source: string }][] = [
    ["Entra: capitalised op", patch("/scim/v2/Users/1", { op: "Replace", path: "displayName", value: "x" }), { standard: false, dialect: 'Entra: capitalised op "Replace"', source: SOURCES.entraCompat }],
    ["Entra: string boolean", patch("/scim/v2/Users/1", { op: "Replace", path: "active", value: "False" }), { standard: false, dialect: 'Entra: booleans as strings ("True"/"False")', source: SOURCES.entraCompat }],
    ["Entra: members removal with a value list", patch("/scim/v2/Groups/1", { op: "Remove", path: "members", value: [{ value: "u" }] }), { standard: false, dialect: "Entra: members removal with a value list", source: SOURCES.entraTutorial }],
    ["Entra: dotted path-less keys", patch("/scim/v2/Users/1", { op: "replace", value: { "name.givenName": "B" } }), { standard: false, dialect: "Entra: path-less replace with dotted or URN keys (aadOptscim062020)", source: SOURCES.entraCompat }],
    ["Entra: unquoted filter", x("GET", "/scim/v2/Users?filter=externalId%20eq%20jyoung"), { standard: false, dialect: "Entra: unquoted filter value (externalId eq jyoung)", source: SOURCES.entraTutorial }],
    ["Okta: path-less replace", patch("/scim/v2/Users/1", { op: "replace", value: { active: false } }), { standard: true, dialect: "Okta: path-less replace", source: SOURCES.okta }],
    ["PingFederate: PUT of the whole user", x("PUT", "/scim/v2/Users/1", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "u", active: false }), { standard: true, dialect: "PingFederate: updates by PUT of the whole resource; also PingOne and Okta AIW apps", source: SOURCES.pingfederate }],
    ["PingFederate: emails eq", x("GET", '/scim/v2/Users?filter=emails eq "a@b"'), { standard: false, dialect: "PingFederate: emails eq without a sub-attribute", source: SOURCES.pingfederateSettings }],
    ["PingOne: username Eq", x("GET", '/scim/v2/Users?filter=username Eq "u"'), { standard: true, dialect: 'PingOne: default filter "username Eq" (case-insensitive per RFC)', source: SOURCES.pingoneFilters }],
    ["RFC: members value filter", patch("/scim/v2/Groups/1", { op: "remove", path: 'members[value eq "u"]' }), { standard: true, source: SOURCES.rfcPatch }],
    ["RFC: create", x("POST", "/scim/v2/Users", { userName: "u", active: true }, 201), { standard: true, source: SOURCES.rfcCreate }],
  ];
  it.each(cases)("%s", (_name, exchange, want) => {
    const [shape] = classify(exchange);
    expect(shape).toMatchObject({ ...want, accepted: true });
    if (!want.dialect) expect(shape!.dialect).toBeUndefined();
  });

  it("one shape per PATCH operation", () => {
    const shapes = classify(patch("/scim/v2/Users/1", { op: "Add", path: "nickName", value: "B" }, { op: "replace", path: "title", value: "T" }));
    expect(shapes.map((s) => s.standard)).toEqual([false, true]);
  });
});
