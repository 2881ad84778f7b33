/**
 * LdapTarget against real slapd instances: failover, outage and recovery on the same object,
 * rebind after a server restart (plain and StartTLS), timeouts, TLS verification, concurrency.
 * Fault injection is done to the real server (stop, SIGSTOP), not with fakes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Client } from "ldapts";
import { LdapTarget, type LdapTargetOptions } from "../../hooks/ldap/connection.js";
import { classifyLdapError, LdapConnectionError } from "../../hooks/ldap/errors.js";
import { freePort, startSlapd, type SlapdHandle, type SlapdOptions } from "../../hooks/ldap/slapd.js";
import { eventually, processState, useSlapd } from "../harness/slapd.js";

const S = "dc=example,dc=com";
const ldap = useSlapd({ ldapsPort: 0 });
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A slapd in a dir we keep, so it can be stopped and started again on the same port. */
async function restartable(extra: SlapdOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-conn-test-"));
  const port = await freePort();
  const opts = { dir, port, rootPassword: "pw", ...extra };
  let handle: SlapdHandle = await startSlapd(opts);
  cleanups.push(async () => {
    handle.kill("SIGCONT");
    await handle.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get handle() {
      return handle;
    },
    stop: () => handle.stop(),
    start: async () => {
      handle = await startSlapd({ ...opts, ldapsPort: handle.ldapsPort });
      return handle;
    },
  };
}

function targetFor(h: Pick<SlapdHandle, "url" | "rootDn" | "rootPassword">, o: Partial<LdapTargetOptions> = {}): LdapTarget {
  const t = new LdapTarget({
    name: "t",
    urls: [h.url],
    bindDn: h.rootDn,
    bindPassword: h.rootPassword,
    timeoutMs: 2000,
    connectTimeoutMs: 500,
    concurrency: 4,
    backoff: { initialMs: 100, maxMs: 400 },
    ...o,
  });
  cleanups.push(() => t.close());
  return t;
}

const rootDse = (c: Client) => c.search("", { scope: "base", attributes: ["namingContexts"] });
let n = 0;
/** An add needs an authenticated session: anonymous writes get 50 from this slapd's ACLs. */
const addUser = (c: Client) => {
  n += 1;
  return c.add(`uid=conn${n},ou=people,${S}`, { objectClass: "inetOrgPerson", uid: `conn${n}`, cn: "C", sn: "C" });
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
}

/** Waits (bounded) until the target's back-off allows the next connect attempt. */
async function pastBackoff(t: LdapTarget): Promise<void> {
  expect(await eventually(() => !t.health().nextAttemptAt, 2000)).toBe(true);
}

describe("LdapTarget", () => {
  it("fails over to the next URL when the first refuses connections", async () => {
    const closed = `ldap://127.0.0.1:${await freePort()}`;
    const t = ldap.target({ urls: [closed, ldap.slapd.url] });
    await t.run(addUser);
    expect(t.health()).toMatchObject({ reachable: true, url: ldap.slapd.url });
  });

  it("rejects transiently during an outage and recovers on the same object after a restart", async () => {
    const srv = await restartable();
    const t = targetFor(srv.handle);
    await t.run(addUser);
    await srv.stop();

    const down = await rejection(t.run(addUser));
    expect(classifyLdapError(down).transient).toBe(true);
    const during = await rejection(t.run(addUser)); // either in back-off or refused again
    expect(during).toBeInstanceOf(LdapConnectionError);
    expect(classifyLdapError(during)).toMatchObject({ transient: true, connection: true });
    expect(t.health().reachable).toBe(false);
    expect(t.health().lastError).toMatch(/ECONNREFUSED|unreachable|closed/i);

    const t0 = performance.now();
    await srv.start();
    await pastBackoff(t);
    await t.run(addUser);
    console.log(`recovery after restart: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(t.health()).toMatchObject({ reachable: true, url: srv.handle.url });
  });

  it("rebinds after a server restart between operations", async () => {
    const srv = await restartable();
    const t = targetFor(srv.handle);
    await t.run(addUser);
    await srv.stop();
    await srv.start();
    // ldapts saw the socket close; the next run reconnects and binds before the add
    await t.run(addUser);
  });

  it("treats a timed-out socket as lost and rebinds before the next operation", async () => {
    const srv = await restartable();
    const t = targetFor(srv.handle, { timeoutMs: 300 });
    await t.run(rootDse);
    srv.handle.kill("SIGSTOP"); // the server hangs: requests are accepted, never answered
    try {
      // signals are delivered asynchronously; under load slapd could still answer one request
      expect(await eventually(() => processState(srv.handle.pid) === "T", 2000)).toBe(true);
      const e = await rejection(t.run(rootDse));
      expect(classifyLdapError(e)).toMatchObject({ transient: true });
      expect(String(e)).toMatch(/timed out/i);
    } finally {
      srv.handle.kill("SIGCONT");
    }
    await pastBackoff(t);
    await t.run(addUser);
  });

  it("keeps the connection after an LDAP result error", async () => {
    const t = ldap.target();
    let first: Client | undefined;
    await t.run(async (c) => {
      first = c;
      await rootDse(c);
    });
    const e = await rejection(t.run((c) => c.del(`uid=ghost,ou=people,${S}`)));
    expect(classifyLdapError(e)).toMatchObject({ transient: false, code: 32 });
    await t.run(async (c) => expect(c).toBe(first));
  });

  it("never runs more than `concurrency` operations at once", async () => {
    const t = ldap.target({ concurrency: 3 });
    let inFlight = 0;
    let max = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        t.run(async (c) => {
          inFlight += 1;
          max = Math.max(max, inFlight);
          await rootDse(c);
          await new Promise((r) => setTimeout(r, 15));
          inFlight -= 1;
        }),
      ),
    );
    expect(max).toBe(3);
  });

  it("reports a wrong service password as a permanent connection failure", async () => {
    const t = ldap.target({ bindPassword: "wrong" });
    const e = await rejection(t.run(rootDse));
    expect(classifyLdapError(e)).toMatchObject({ transient: false, code: 49, connection: true });
    expect(t.health().lastError).toMatch(/0x31|Invalid credentials/i);
  });

  it("refuses work after close()", async () => {
    const t = ldap.target();
    await t.run(rootDse);
    await t.close();
    expect(classifyLdapError(await rejection(t.run(rootDse)))).toMatchObject({ transient: false, connection: true });
  });
});

describe("LdapTarget over TLS", () => {
  it("verifies ldaps:// against tls.caFile, and by default rejects an unknown CA", async () => {
    const url = ldap.slapd.ldapsUrl ?? "";
    await ldap.target({ urls: [url], tls: { caFile: ldap.slapd.caFile } }).run(addUser);
    const e = await rejection(ldap.target({ urls: [url] }).run(rootDse));
    expect(classifyLdapError(e)).toMatchObject({ transient: false, connection: true });
    expect(String((e as Error).message)).toMatch(/self[- ]signed|certificate/i);
    // rejectUnauthorized: false is the explicit opt-out for throwaway setups
    await ldap.target({ urls: [url], tls: { rejectUnauthorized: false } }).run(rootDse);
  });

  it("reports an unreadable caFile as a permanent connection failure", async () => {
    const t = ldap.target({ urls: [ldap.slapd.ldapsUrl ?? ""], tls: { caFile: "/nonexistent/ca.pem" } });
    expect(classifyLdapError(await rejection(t.run(rootDse)))).toMatchObject({ transient: false, connection: true });
  });

  it("uses StartTLS, verifies the certificate, and binds again after a restart", async () => {
    const srv = await restartable({ ldapsPort: 0 });
    const tls = { startTls: true, caFile: srv.handle.caFile };
    const t = targetFor(srv.handle, { tls });
    await t.run(addUser);
    // a wrong CA fails the StartTLS handshake: proof the upgrade happens before the bind
    const bad = targetFor(srv.handle, { tls: { startTls: true, caFile: ldap.slapd.caFile } });
    expect(classifyLdapError(await rejection(bad.run(rootDse)))).toMatchObject({ transient: false, connection: true });

    await srv.stop();
    await srv.start();
    await t.run(addUser); // autoRebind does not survive StartTLS; LdapTarget binds itself
  });

  it("does not let ldapts reconnect a StartTLS session in plaintext", async () => {
    const srv = await restartable({ ldapsPort: 0 });
    const t = targetFor(srv.handle, { tls: { startTls: true, caFile: srv.handle.caFile } });
    const e = await rejection(
      t.run(async (c) => {
        await addUser(c);
        await srv.stop();
        await srv.start();
        await addUser(c); // same Client, socket gone: ldapts would reconnect without TLS
      }),
    );
    expect(String((e as Error).message)).toMatch(/not reconnecting in plaintext/);
    await pastBackoff(t);
    await t.run(addUser);
  });
});
