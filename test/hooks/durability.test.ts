/**
 * Nothing accepted is lost: a directory outage (slapd stopped while 100 changes are made) and a
 * crash (kill -9 of the service during a stream of creates).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { Client } from "ldapts";
import { afterAll, describe, expect, it } from "vitest";
import { startSlapd, type SlapdHandle } from "../../hooks/ldap/slapd.js";
import { freePort } from "../../hooks/ldap/slapd.js";
import { PATCH_OP, user } from "../helpers/app.js";
import { spawnCli, waitForOutput } from "../helpers/cli.js";
import { provisioned } from "../helpers/provisioned.js";
import { TEST_SECRET_KEY, testStorage } from "../helpers/test-store.js";

const dirs: string[] = [];
const slapds: SlapdHandle[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(slapds.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tempDir = (name: string) => {
  const d = mkdtempSync(join(tmpdir(), `scimbridge-${name}-`));
  dirs.push(d);
  return d;
};

async function persistentSlapd(dir: string, port: number): Promise<SlapdHandle> {
  const s = await startSlapd({ dir, port, rootPassword: "durability-root-pw" });
  slapds.push(s);
  return s;
}

async function entries(url: string): Promise<Map<string, string[]>> {
  const c = new Client({ url });
  await c.bind("cn=admin,dc=example,dc=com", "durability-root-pw");
  const found = new Map<string, string[]>();
  for await (const page of c.searchPaginated("ou=people,dc=example,dc=com", { scope: "one", attributes: ["uid", "title"], paged: { pageSize: 500 } })) {
    for (const e of page.searchEntries) found.set(String(e.uid), ([] as string[]).concat(e.title as string | string[] ?? []));
  }
  await c.unbind();
  return found;
}

describe("durability", () => {
  it("directory outage: 100 changes made while slapd is down are all delivered after it returns", async () => {
    const slapdDir = tempDir("outage-slapd");
    const port = await freePort();
    let slapd = await persistentSlapd(slapdDir, port);
    const ldap = { slapd } as Parameters<typeof provisioned>[0];
    const p = await provisioned(ldap, { userRules: [{ name: "people", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" }] });
    try {
      await slapd.stop();
      // 50 creates, then 50 updates of the same users: final titles must all be "v2".
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) {
        const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(`out${i}`, { title: "v1" }));
        expect(res.status).toBe(201); // the SCIM API never waits on the directory
        ids.push(res.body.id);
      }
      for (const id of ids) {
        const res = await p.http.patch(`/scim/v2/Users/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "v2" }] });
        expect(res.status).toBe(200);
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(await p.sql.one("SELECT count(*) AS n FROM sync_state WHERE state IN ('pending','retrying')")).toEqual({ n: 50 });
      slapd = await persistentSlapd(slapdDir, port);
      await p.settle(20_000);
      const found = await entries(slapd.url);
      expect(found.size).toBe(50);
      for (let i = 0; i < 50; i++) expect(found.get(`out${i}`)).toEqual(["v2"]);
    } finally {
      await p.close();
    }
  });

  it("a write inside an enclosing transaction that rolls back reaches no directory (deliveries start only after a real commit)", async () => {
    const slapd = await startSlapd();
    slapds.push(slapd);
    const p = await provisioned({ slapd } as Parameters<typeof provisioned>[0], { userRules: [{ name: "people", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" }] });
    try {
      const ctx = { baseUrl: "https://scim.example.test/scim/v2", client: "test" };
      await expect(
        p.db.transaction(async () => {
          await p.assembled.app.service.create("User", user("ghost"), ctx);
          throw new Error("the enclosing work fails");
        }),
      ).rejects.toThrow("the enclosing work fails");
      await p.assembled.app.service.create("User", user("real"), ctx);
      await p.settle();
      const c = new Client({ url: slapd.url });
      await c.bind(slapd.rootDn, slapd.rootPassword);
      const { searchEntries } = await c.search("ou=people,dc=example,dc=com", { scope: "one", attributes: ["uid"] });
      await c.unbind();
      expect(searchEntries.map((e) => String(e.uid))).toEqual(["real"]);
    } finally {
      await p.close();
    }
  });

  it("crash: after kill -9 during a stream of creates, every accepted create is in the directory exactly once", async () => {
    const slapd = await persistentSlapd(tempDir("crash-slapd"), await freePort());
    const work = tempDir("crash");
    const port = await freePort();
    const config = join(work, "config.yaml");
    const storage = await testStorage(join(work, "db.sqlite"));
    writeFileSync(
      config,
      [
        `server: { port: ${port} }`,
        `storage: ${JSON.stringify(storage)}`,
        `logging: { level: warn }`,
        `provisioning: { pollMs: 50, secretKey: ${TEST_SECRET_KEY} }`,
        `targets: [{ name: slapd, directory: openldap, urls: ["${slapd.url}"], bindDn: "cn=admin,dc=example,dc=com", bindPassword: durability-root-pw }]`,
        `userRules: [{ name: people, target: slapd, dn: "uid={userName},ou=people,dc=example,dc=com" }]`,
      ].join("\n"),
    );
    const env = { SCIM_TOKEN: "crash-test-token-0123456789" };
    const base = `http://127.0.0.1:${port}/scim/v2`;
    const headers = { Authorization: `Bearer ${env.SCIM_TOKEN}`, "Content-Type": "application/scim+json" };

    const first = spawnCli(["serve", "--config", config], env);
    children.push(first);
    await waitForOutput(first, /listening on/);
    const accepted: string[] = [];
    let i = 0;
    const stream = (async () => {
      for (; i < 2000; i++) {
        try {
          const res = await fetch(`${base}/Users`, { method: "POST", headers, body: JSON.stringify(user(`crash${i}`)) });
          if (res.status === 201) accepted.push(`crash${i}`);
        } catch {
          return; // the process is gone
        }
      }
    })();
    // Kill once a good number of creates were accepted (bounded), not after a fixed time: on a
    // loaded machine 700 ms may hold only a handful.
    for (let waited = 0; accepted.length < 50 && waited < 30_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    first.kill("SIGKILL");
    await stream;
    expect(accepted.length).toBeGreaterThan(20);

    const second = spawnCli(["serve", "--config", config], env);
    children.push(second);
    await waitForOutput(second, /listening on/);
    let found = new Map<string, string[]>();
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      found = await entries(slapd.url);
      if (accepted.every((u) => found.has(u))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const missing = accepted.filter((u) => !found.has(u));
    expect(missing).toEqual([]);
    // Exactly once: one entry per userName (uid is the RDN, so a second add could only fail or duplicate under another DN).
    const c = new Client({ url: slapd.url });
    await c.bind("cn=admin,dc=example,dc=com", "durability-root-pw");
    const { searchEntries } = await c.search("ou=people,dc=example,dc=com", { scope: "one", filter: "(uid=crash*)", attributes: ["uid"], paged: true });
    await c.unbind();
    const uids = searchEntries.map((e) => String(e.uid));
    expect(new Set(uids).size).toBe(uids.length);
    second.kill("SIGTERM");
  });
});
