// previewUser: the worker's decision and plan for one user, computed without sending anything (issue 4).
import { describe, expect, it } from "vitest";
import { userRuleSchema } from "../../hooks/rules/config.js";
import { compileRule, mapUser } from "../../hooks/rules/mapping.js";
import { planUser, type WrittenEntry } from "../../hooks/planning/planner.js";
import { formatPreview, previewUser, printablePreview, type PreviewState } from "../../hooks/delivery/preview.js";
import { SchemaRegistry } from "../../schemas/registry.js";

const registry = new SchemaRegistry();
const PEOPLE = "ou=people,dc=example,dc=com";
const rule = compileRule(
  registry,
  userRuleSchema.parse({ name: "staff", target: "dir", dn: `uid={userName},${PEOPLE}`, filter: 'title ne "Contractor"' }),
  { directory: "openldap" },
);
const targets = [{ name: "dir", urls: ["ldap://127.0.0.1:1"], startTls: false }];
const user = (title: string) => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  id: "u1",
  userName: "jdoe",
  name: { givenName: "John", familyName: "Doe" },
  emails: [{ value: "john@example.com", type: "work", primary: true }],
  title,
  active: true,
});

describe("previewUser", () => {
  it("plans an add for a user never delivered", async () => {
    const [p] = await previewUser({ rules: [rule], targets, user: user("Engineer"), stateOf: () => undefined });
    expect(p).toMatchObject({ rule: "staff", target: "dir", matches: true, event: "upsert", dn: `uid=jdoe,${PEOPLE}`, passwordPending: false });
    expect(p!.state).toBeUndefined();
    expect(p!.ops).toHaveLength(1);
    expect(p!.ops[0]).toMatchObject({ kind: "add", dn: `uid=jdoe,${PEOPLE}`, attributes: { uid: ["jdoe"], sn: ["Doe"], title: ["Engineer"], mail: ["john@example.com"] } });
    expect(formatPreview([p!]).join("\n")).toContain(`add uid=jdoe,${PEOPLE}`);
  });

  it("after a delivery, plans a modify of only the changed attribute", async () => {
    const plan = planUser({ rule, event: "upsert", targetSecure: false, after: await mapUser(rule, user("Engineer")) });
    if ("error" in plan || !plan.written) throw new Error("no plan");
    const delivered: PreviewState = { state: "in_sync", written: plan.written as WrittenEntry };
    const [p] = await previewUser({ rules: [rule], targets, user: user("Manager"), stateOf: (r) => (r === "staff" ? delivered : undefined) });
    expect(p).toMatchObject({ event: "upsert", state: "in_sync", dn: `uid=jdoe,${PEOPLE}` });
    expect(p!.ops).toEqual([{ kind: "modify", dn: `uid=jdoe,${PEOPLE}`, changes: [{ operation: "replace", attribute: "title", values: ["Manager"] }] }]);

    const same = await previewUser({ rules: [rule], targets, user: user("Engineer"), stateOf: () => delivered });
    expect(same[0]!.ops).toEqual([]);
    expect(formatPreview(same)).toContain("  ops: none");
  });

  it("a user leaving the filter gets the rule's deprovision action; never delivered means nothing to do", async () => {
    const plan = planUser({ rule, event: "upsert", targetSecure: false, after: await mapUser(rule, user("Engineer")) });
    if ("error" in plan || !plan.written) throw new Error("no plan");
    const [left] = await previewUser({ rules: [rule], targets, user: user("Contractor"), stateOf: () => ({ state: "in_sync", written: plan.written! }) });
    expect(left).toMatchObject({ matches: false, event: "leftFilter" });
    expect(left!.ops.length).toBeGreaterThan(0);
    const [never] = await previewUser({ rules: [rule], targets, user: user("Contractor"), stateOf: () => undefined });
    expect(never).toMatchObject({ matches: false, event: "leftFilter", ops: [] });
  });

  it("prints binary values by size and never a password", () => {
    const p = printablePreview({
      rule: "ad",
      target: "ad",
      matches: true,
      event: "upsert",
      passwordPending: true,
      ops: [{ kind: "modify", dn: "CN=x", changes: [{ operation: "replace", attribute: "unicodePwd", values: [Buffer.alloc(22)] }, { operation: "replace", attribute: "userPassword", values: ["s3cret"] }] }],
    });
    const text = JSON.stringify(p);
    expect(text).toContain("<binary 22 bytes>");
    expect(text).not.toContain("s3cret");
  });
});
