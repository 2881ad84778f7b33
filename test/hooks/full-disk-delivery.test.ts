/**
 * The delivery worker on a full disk: the SQLite file on a tmpfs the test mounts (root needed),
 * users created, the disk filled while more writes stream in, then freed. The worker's failed
 * writes of sync state are reported (never an unhandled rejection, never a crash), and once space
 * returns every acknowledged user reaches slapd without a restart.
 */
import { join } from "node:path";
import { Client } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountTmpfs, type Tmpfs } from "../harness/tmpfs.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";

const ldap = useSlapd();
const PEOPLE = "ou=people,dc=example,dc=com";
let disk: Tmpfs | undefined;
let p: Provisioned | undefined;
beforeAll(() => {
  disk = mountTmpfs("8m");
});
afterAll(async () => {
  await p?.close();
  disk?.unmount();
});

describe("deliveries on a full disk", () => {
  it("the worker survives the fault and delivers everything acknowledged once space returns", async () => {
    p = await provisioned(ldap, { userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }], dbFile: join(disk!.dir, "scim.db") });
    const acknowledged: string[] = [];
    let refused = 0;
    for (let i = 0; i < 400 && refused < 3; i++) {
      if (i === 10) disk!.fill();
      if (i > 10 && i % 20 === 0) disk!.fill();
      const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(`fd${i}`));
      expect([201, 503]).toContain(res.status);
      if (res.status === 201) acknowledged.push(`fd${i}`);
      else refused++;
    }
    expect(refused).toBeGreaterThan(0);
    // The worker runs into the fault too while the disk stays full.
    await new Promise((r) => setTimeout(r, 1500));
    expect(p.store.health.fault()).toBeDefined();

    disk!.free();
    await p.settle(30_000);
    const c = new Client({ url: ldap.slapd.url });
    await c.bind(ldap.slapd.rootDn, ldap.slapd.rootPassword);
    const { searchEntries } = await c.search(PEOPLE, { filter: "(uid=fd*)", attributes: ["uid"] });
    await c.unbind();
    expect(searchEntries.map((e) => String(e.uid)).sort()).toEqual([...acknowledged].sort());
  }, 60_000);
});
