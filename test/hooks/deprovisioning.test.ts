/**
 * A disabled or deleted user never keeps access, whatever order the changes arrive in, checked
 * with a bind against the directory itself. One slapd with ppolicy (the openldap preset locks with
 * pwdAccountLockedTime) and the PingDirectory stand-in schema (ds-pwp-account-disabled, which the
 * test profile's ACL makes refuse binds as PingDirectory does). Active Directory: test/ad/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, USER_SCHEMA } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { addOus, presetTargetsAndRules, SLAPD_PRESETS as PRESETS, SUFFIX } from "../helpers/slapd-presets.js";
import { canBind, useSlapd } from "../harness/slapd.js";

const ldap = useSlapd({ schemas: ["pingdirectory"] });

let p: Provisioned;
beforeAll(async () => {
  await addOus(ldap, PRESETS.map(({ ou }) => ou));
  p = await provisioned(undefined, presetTargetsAndRules(ldap));
});
afterAll(async () => p?.close());

const body = (userName: string, extra: Record<string, unknown> = {}) => ({ schemas: [USER_SCHEMA], userName, name: { familyName: "Doe" }, ...extra });
const patch = (id: string, ops: unknown[]) => p.http.patch(`/scim/v2/Users/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: ops });
const setActive = (id: string, active: boolean) => patch(id, [{ op: "replace", path: "active", value: active }]);
const setPassword = (id: string, password: string) => patch(id, [{ op: "replace", path: "password", value: password }]);

async function create(userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await p.http.post("/scim/v2/Users").set(p.auth).send(body(userName, extra));
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const bindAs = (ou: string, userName: string, password: string) => canBind(ldap.slapd.url, `uid=${userName},ou=${ou},${SUFFIX}`, password);

describe.each(PRESETS)("$preset: a disabled account stays disabled", ({ ou }) => {
  it("disable, then a password (PATCH): the lock is put back after the password", async () => {
    const id = await create(`${ou}-dp`, { password: "First-Pa55!" });
    await p.settle();
    expect(await bindAs(ou, `${ou}-dp`, "First-Pa55!")).toBe(true);
    expect((await setActive(id, false)).status).toBe(200);
    await p.settle();
    expect(await bindAs(ou, `${ou}-dp`, "First-Pa55!")).toBe(false);
    expect((await setPassword(id, "Second-Pa55!")).status).toBe(200);
    await p.settle();
    expect(await bindAs(ou, `${ou}-dp`, "Second-Pa55!")).toBe(false);
    expect(await bindAs(ou, `${ou}-dp`, "First-Pa55!")).toBe(false);
  });

  it("a password, then disable", async () => {
    const id = await create(`${ou}-pd`);
    await p.settle();
    expect((await setPassword(id, "Pa55-then-off!")).status).toBe(200);
    await p.settle();
    expect(await bindAs(ou, `${ou}-pd`, "Pa55-then-off!")).toBe(true);
    expect((await setActive(id, false)).status).toBe(200);
    await p.settle();
    expect(await bindAs(ou, `${ou}-pd`, "Pa55-then-off!")).toBe(false);
  });

  it("disable and a password in one PUT (PingFederate sends the whole user)", async () => {
    const id = await create(`${ou}-put`, { password: "Put-Pa55-1!" });
    await p.settle();
    const res = await p.http.put(`/scim/v2/Users/${id}`).set(p.auth).send(body(`${ou}-put`, { active: false, password: "Put-Pa55-2!" }));
    expect(res.status).toBe(200);
    await p.settle();
    expect(await bindAs(ou, `${ou}-put`, "Put-Pa55-2!")).toBe(false);
    // Already disabled: another PUT with a password must not lift the lock either.
    await p.http.put(`/scim/v2/Users/${id}`).set(p.auth).send(body(`${ou}-put`, { active: false, password: "Put-Pa55-3!" }));
    await p.settle();
    expect(await bindAs(ou, `${ou}-put`, "Put-Pa55-3!")).toBe(false);
  });

  it("created disabled with a password, then a password", async () => {
    const id = await create(`${ou}-new-off`, { active: false, password: "Off-Pa55-1!" });
    await p.settle();
    expect(await bindAs(ou, `${ou}-new-off`, "Off-Pa55-1!")).toBe(false);
    await setPassword(id, "Off-Pa55-2!");
    await p.settle();
    expect(await bindAs(ou, `${ou}-new-off`, "Off-Pa55-2!")).toBe(false);
  });

  it("enable, then a password: the account works with the new password", async () => {
    const id = await create(`${ou}-en`, { active: false, password: "En-Pa55-1!" });
    await p.settle();
    await setActive(id, true);
    await p.settle();
    expect(await bindAs(ou, `${ou}-en`, "En-Pa55-1!")).toBe(true);
    await setPassword(id, "En-Pa55-2!");
    await p.settle();
    expect(await bindAs(ou, `${ou}-en`, "En-Pa55-2!")).toBe(true);
    expect(await bindAs(ou, `${ou}-en`, "En-Pa55-1!")).toBe(false);
  });
});

describe.each(PRESETS)("$preset: a deleted user has no usable entry, under each Remove Action", ({ preset, ou }) => {
  it("onDelete delete: the entry is gone", async () => {
    const id = await create(`${ou}-gone`, { password: "Gone-Pa55!" });
    await p.settle();
    expect(await bindAs(ou, `${ou}-gone`, "Gone-Pa55!")).toBe(true);
    expect((await p.http.delete(`/scim/v2/Users/${id}`).set(p.auth)).status).toBe(204);
    await p.settle();
    expect(await ldap.search(`uid=${ou}-gone,ou=${ou},${SUFFIX}`)).toBeUndefined();
    expect(await bindAs(ou, `${ou}-gone`, "Gone-Pa55!")).toBe(false);
  });

  it("onDelete disable: the entry stays, locked, even when a password was the last change before the delete", async () => {
    const keptOu = `${ou}k`;
    await addOus(ldap, [keptOu]);
    const { targets, userRules } = presetTargetsAndRules(ldap);
    const rule = userRules.find((r) => r.name === preset)!;
    const q = await provisioned(undefined, {
      targets,
      userRules: [{ ...rule, name: `${preset}-keep`, dn: `uid={userName},ou=${keptOu},${SUFFIX}`, actions: { deprovision: { onDelete: "disable" } } }],
    });
    try {
      const res = await q.http.post("/scim/v2/Users").set(q.auth).send(body(`${ou}-kept`, { password: "Kept-Pa55-1!" }));
      await q.settle();
      await q.http.patch(`/scim/v2/Users/${res.body.id}`).set(q.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "password", value: "Kept-Pa55-2!" }] });
      expect((await q.http.delete(`/scim/v2/Users/${res.body.id}`).set(q.auth)).status).toBe(204);
      await q.settle();
      expect(await ldap.search(`uid=${ou}-kept,ou=${keptOu},${SUFFIX}`)).toBeDefined();
      expect(await bindAs(keptOu, `${ou}-kept`, "Kept-Pa55-2!")).toBe(false);
      expect(await bindAs(keptOu, `${ou}-kept`, "Kept-Pa55-1!")).toBe(false);
    } finally {
      await q.close();
    }
  });
});
