/**
 * Process plumbing for test/harness/samba.ts: a daemon in its own process group that dies with us,
 * a machine-wide lock (one Samba AD DC can bind 389/636 at a time) and a port probe.
 */
import { closeSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { connect } from "node:net";

/** Synchronous cleanups of running DCs (SIGKILL the group, remove the dir, release the lock). */
export const live = new Set<() => void>();
let handlersInstalled = false;

/**
 * Samba runs in its own process group, so a Ctrl-C in the terminal or a SIGTERM to this test
 * process would not reach it: kill it from "exit" and from SIGINT/SIGTERM (then re-raise the
 * signal when ours was the only listener, so the process still ends as asked).
 */
export function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const killAll = () => {
    for (const cleanup of live) cleanup();
    live.clear();
  };
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAll();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the process group we created with detached: only Samba's processes
  } catch {
    // ESRCH: already gone
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the root process was reaped and no process of its group is left. */
export async function waitGroupGone(pid: number, exited: Promise<void>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let rootDone = false;
  void exited.then(() => (rootDone = true));
  while (Date.now() < deadline) {
    if (rootDone && !groupAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return rootDone && !groupAlive(pid);
}

export async function busyPorts(ports: number[]): Promise<number[]> {
  const busy = await Promise.all(
    ports.map(
      (port) =>
        new Promise<boolean>((resolve) => {
          const s = connect({ host: "127.0.0.1", port });
          s.setTimeout(1000);
          s.once("connect", () => (s.destroy(), resolve(true)));
          s.once("timeout", () => (s.destroy(), resolve(true)));
          s.once("error", () => resolve(false));
        }),
    ),
  );
  return ports.filter((_, i) => busy[i]);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One DC per machine: an O_EXCL lock file holding the owner's PID. A lock whose owner is dead is
 * taken over; a live one is waited for (another AD test file or a parallel run on this machine).
 */
export async function acquireLock(lockFile: string, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(lockFile, "utf8").trim() === String(process.pid)) unlinkSync(lockFile);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let text: string;
    try {
      text = readFileSync(lockFile, "utf8").trim();
    } catch {
      continue; // released between our open and read
    }
    if (text === "" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50)); // its owner has created it but not written its PID yet
      continue;
    }
    const owner = Number(text);
    if (!Number.isInteger(owner) || owner <= 0 || (owner !== process.pid && !pidAlive(owner))) {
      rmSync(lockFile, { force: true }); // stale: its owner died without releasing it
      continue;
    }
    if (owner === process.pid) {
      throw new Error(`a Samba AD DC is already running in this process (lock ${lockFile}); use one useSambaAd() per test file`);
    }
    if (Date.now() > deadline) {
      throw new Error(`another process (PID ${owner}) still runs a Samba AD DC after ${timeoutMs} ms (lock ${lockFile}); only one DC can bind 389/636`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
