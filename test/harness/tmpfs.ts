/**
 * A small tmpfs the test mounts itself (root needed; CI runs as root), to fill for real. Not
 * skipped without root: a suite that silently passes without its fault proves nothing.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, rmdirSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tmpfs {
  dir: string;
  /** Writes zeros to a new file until the filesystem says ENOSPC; returns the bytes written. */
  fill(): number;
  /** Removes every file fill() wrote. */
  free(): void;
  unmount(): void;
}

export function mountTmpfs(size: string): Tmpfs {
  if (process.getuid?.() !== 0) throw new Error("the full-disk tests mount a tmpfs and need root (CI runs as root); run them as root");
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-fulldisk-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  let n = 0;
  return {
    dir,
    fill() {
      const fd = openSync(join(dir, `filler${n++}`), "w");
      const chunk = Buffer.alloc(64 * 1024);
      let written = 0;
      try {
        for (;;) written += writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      for (const f of readdirSync(dir).filter((name) => name.startsWith("filler"))) rmSync(join(dir, f));
    },
    unmount() {
      execFileSync("umount", ["-l", dir]);
      rmdirSync(dir);
    },
  };
}
