import { describe, expect, it } from "vitest";
import {
  checkDnTemplate,
  hooksConfigSchema,
  isTargetSecure,
  parseDnTemplate,
  targetSchema,
  userRuleSchema,
} from "../../hooks/rules/config.js";

const target = {
  name: "corp-ad",
  directory: "active-directory",
  urls: ["ldaps://dc1.example.com:636", "ldaps://dc2.example.com"],
  bindDn: "CN=svc-scim,OU=Service,DC=example,DC=com",
  bindPassword: "s3cret-from-env",
};

const rule = { name: "staff", target: "corp-ad", dn: "CN={userName},OU=Users,DC=example,DC=com" };

/** The issues as `path: message` lines, for readable assertions. */
function issues(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): string[] {
  return result.success ? [] : (result.error?.issues ?? []).map((i) => `${i.path.map(String).join(".")}: ${i.message}`);
}

describe("targetSchema", () => {
  it("fills defaults", () => {
    const t = targetSchema.parse(target);
    expect(t).toMatchObject({ startTls: false, timeoutMs: 10_000, connectTimeoutMs: 5_000, concurrency: 8 });
    expect(t.tls).toBeUndefined();
    expect(targetSchema.parse({ ...target, tls: {} }).tls).toEqual({ rejectUnauthorized: true });
  });

  it.each([
    ["no URL", { urls: [] }, "urls"],
    ["http URL", { urls: ["http://x"] }, "urls.0"],
    ["URL with a path", { urls: ["ldap://x/dc=example"] }, "urls.0"],
    ["unknown directory", { directory: "novell" }, "directory"],
    ["bad bind DN", { bindDn: "svc-scim" }, "bindDn"],
    ["empty password", { bindPassword: "" }, "bindPassword"],
    ["zero concurrency", { concurrency: 0 }, "concurrency"],
    ["typo'd key", { timeoutMS: 5 }, ""],
    ["StartTLS on ldaps", { startTls: true }, "startTls"],
    ["unknown tls key", { tls: { ca: "x" } }, "tls"],
  ])("rejects %s", (_name, patch, path) => {
    const found = issues(targetSchema.safeParse({ ...target, ...patch }));
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((l) => l.startsWith(`${path}:`) || (path === "" && l.includes("timeoutMS")))).toBe(true);
  });

  it.each([
    [["ldaps://a"], false, true],
    [["ldap://a"], true, true],
    [["ldap://a"], false, false],
    [["ldaps://a", "ldap://b"], false, false],
  ])("isTargetSecure(%j, startTls=%s) = %s", (urls, startTls, secure) => {
    expect(isTargetSecure({ urls, startTls })).toBe(secure);
  });
});

describe("userRuleSchema", () => {
  it("fills action defaults (documented choices)", () => {
    const r = userRuleSchema.parse(rule);
    expect(r.actions).toEqual({
      create: true,
      update: true,
      disable: true,
      enable: true,
      password: true,
      mustChangePassword: false,
      deprovision: { onDelete: "delete", onLeaveFilter: "disable", onRuleRemoved: "none" },
    });
    expect(r.attributes).toEqual({});
    expect(r.preset).toBeUndefined();
  });

  it("accepts every mapping form", () => {
    const r = userRuleSchema.parse({
      ...rule,
      filter: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"',
      attributes: {
        givenName: "name.givenName",
        mail: { path: 'emails[type eq "work"].value' },
        uid: { expr: "$lowercase(userName)" },
        description: { value: "provisioned by scimbridge" },
        businessCategory: { value: ["a", "b"] },
        "jpegPhoto;binary": null,
        title: null,
      },
      actions: { deprovision: { onDelete: "disable" } },
    });
    expect(r.actions.deprovision).toEqual({ onDelete: "disable", onLeaveFilter: "disable", onRuleRemoved: "none" });
    expect(r.attributes.title).toBeNull();
  });

  it.each([
    ["bad JSONata", { attributes: { cn: { expr: "$lowercase(userName" } } }, "attributes.cn.expr", /invalid JSONata/],
    ["unclosed placeholder", { dn: "uid={userName,dc=x" }, "dn", /unclosed '\{'/],
    ["constant DN", { dn: "uid=fixed,dc=x" }, "dn", /first RDN must contain/],
    ["placeholder only in the suffix", { dn: "uid=x,ou={title},dc=x" }, "dn", /first RDN must contain/],
    ["no base DN", { dn: "uid={userName}" }, "dn", /base DN/],
    ["placeholder as a type", { dn: "{userName}=x,dc=x" }, "dn", /not a DN/],
    ["unescaped comma in the literal", { dn: "cn={userName};x,dc=x" }, "dn", /not a DN/],
    ["reserved attribute", { attributes: { userAccountControl: { value: "512" } } }, "attributes.userAccountControl", /managed by the preset/],
    ["password attribute in any case", { attributes: { USERPASSWORD: "password" } }, "attributes.USERPASSWORD", /managed by the preset/],
    ["duplicate attribute names", { attributes: { mail: "emails.value", Mail: "userName" } }, "attributes.Mail", /case-insensitive/],
    ["bad attribute name", { attributes: { "bad name": "userName" } }, "attributes.bad name", /LDAP attribute/],
    ["empty path", { attributes: { cn: "" } }, "attributes.cn", /./],
    ["unknown mapping key", { attributes: { cn: { path: "userName", default: "x" } } }, "attributes.cn", /./],
    ["unknown preset", { preset: "novell" }, "preset", /./],
    ["unknown deprovision action", { actions: { deprovision: { onDelete: "archive" } } }, "actions.deprovision.onDelete", /./],
    ["typo'd action", { actions: { crate: true } }, "actions", /crate/],
    ["typo'd rule key", { filters: "x" }, "", /filters/],
    ["bad rule name", { name: "my rule" }, "name", /letters/],
  ])("rejects %s", (_name, patch, path, message) => {
    const found = issues(userRuleSchema.safeParse({ ...rule, ...patch }));
    const hit = found.find((l) => l.startsWith(`${path}:`));
    expect(hit, found.join("\n")).toBeDefined();
    expect(hit).toMatch(message);
  });
});

describe("DN templates", () => {
  it("splits literals and placeholders, quotes may hold braces", () => {
    expect(parseDnTemplate('cn={emails[type eq "}"].value},ou={title},dc=x')).toEqual([
      { literal: "cn=" },
      { path: 'emails[type eq "}"].value' },
      { literal: ",ou=" },
      { path: "title" },
      { literal: ",dc=x" },
    ]);
  });

  it.each([
    ["uid={userName},ou=people,dc=example,dc=com", undefined],
    ["CN={name.givenName} {name.familyName},OU=Users,DC=x", undefined],
    ["uid={userName}+employeeNumber={urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber},dc=x", undefined],
    ["cn={userName}}", /unmatched/],
    ["cn={},dc=x", /bad placeholder/],
  ])("%s", (template, problem) => {
    const found = checkDnTemplate(template);
    if (problem) expect(found).toMatch(problem);
    else expect(found).toBeUndefined();
  });
});

describe("hooksConfigSchema (cross-checks)", () => {
  it("accepts a consistent config", () => {
    const c = hooksConfigSchema.parse({ targets: [target], userRules: [rule] });
    expect(c.userRules[0]?.target).toBe("corp-ad");
  });

  it("defaults to no targets and no rules", () => {
    expect(hooksConfigSchema.parse({})).toEqual({ targets: [], userRules: [] });
  });

  it.each([
    ["unknown target", { targets: [target], userRules: [{ ...rule, target: "nope" }] }, "userRules.0.target", /no target named nope \(targets: corp-ad\)/],
    ["duplicate target", { targets: [target, target], userRules: [] }, "targets.1.name", /duplicate target/],
    ["duplicate rule", { targets: [target], userRules: [rule, rule] }, "userRules.1.name", /duplicate rule/],
    [
      "AD passwords over plain LDAP",
      { targets: [{ ...target, urls: ["ldap://dc1"] }], userRules: [rule] },
      "userRules.0.actions.password",
      /only over TLS/,
    ],
    [
      "AD preset on an openldap target over plain LDAP",
      { targets: [{ ...target, directory: "openldap", urls: ["ldap://x"] }], userRules: [{ ...rule, preset: "active-directory" }] },
      "userRules.0.actions.password",
      /only over TLS/,
    ],
  ])("rejects %s", (_name, input, path, message) => {
    const found = issues(hooksConfigSchema.safeParse(input));
    const hit = found.find((l) => l.startsWith(`${path}:`));
    expect(hit, found.join("\n")).toBeDefined();
    expect(hit).toMatch(message);
  });

  it.each([
    ["StartTLS", { startTls: true, urls: ["ldap://dc1"] }, {}],
    ["passwords off", { urls: ["ldap://dc1"] }, { actions: { password: false } }],
  ])("allows AD over plain ldap:// with %s", (_name, t, r) => {
    expect(hooksConfigSchema.safeParse({ targets: [{ ...target, ...t }], userRules: [{ ...rule, ...r }] }).success).toBe(true);
  });
});
