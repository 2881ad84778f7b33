/**
 * The CLI progress line (server/progress.ts): the text, the ~10-per-second throttle, the erase at
 * the end, and that nothing is drawn off a terminal or with --json. The reconcile CLI as a process,
 * on a pipe and on a pty, is tested in test/hooks/reconcile.test.ts.
 */
import { describe, expect, it } from "vitest";
import { formatReconcileProgress, progressFor, progressLine, reconcileProgress } from "../../server/progress.js";

function recorder(columns?: number) {
  let t = 0;
  const writes: string[] = [];
  const line = progressLine({ write: (s) => writes.push(s), now: () => t, columns });
  return { line, writes, at: (ms: number) => (t = ms) };
}

describe("formatReconcileProgress", () => {
  it("users read with total and percentage, thousands separated; then directory entries and repairs", () => {
    expect(formatReconcileProgress({ rule: "people", phase: "expected", done: 12_000, total: 100_000 })).toBe("reconcile: rule people 12,000/100,000 users (12%)");
    expect(formatReconcileProgress({ rule: "people", phase: "expected", done: 99_999, total: 100_000 })).toBe("reconcile: rule people 99,999/100,000 users (99%)");
    expect(formatReconcileProgress({ rule: "people", phase: "expected", done: 0, total: 0 })).toBe("reconcile: rule people 0/0 users (100%)");
    expect(formatReconcileProgress({ rule: "people", phase: "expected", done: 500 })).toBe("reconcile: rule people 500 users read");
    expect(formatReconcileProgress({ rule: "staff", phase: "directory", done: 1500 })).toBe("reconcile: rule staff 1,500 directory entries checked");
    expect(formatReconcileProgress({ rule: "staff", phase: "repair", done: 3 })).toBe("reconcile: rule staff 3 extra entries deleted");
  });
});

describe("progressLine", () => {
  it("draws at most once per 100 ms, redrawing in place with \\r and clearing the rest of the line", () => {
    const r = recorder();
    for (const [ms, text] of [[0, "a"], [50, "b"], [99, "c"], [100, "d"], [150, "e"], [250, "f"]] as const) {
      r.at(ms);
      r.line.update(text);
    }
    expect(r.writes).toEqual(["\ra\x1b[K", "\rd\x1b[K", "\rf\x1b[K"]);
  });

  it("force draws at once; done erases the line only when something was drawn", () => {
    const r = recorder();
    r.line.done();
    expect(r.writes).toEqual([]);
    r.line.update("a");
    r.line.update("b", true);
    r.line.done();
    expect(r.writes).toEqual(["\ra\x1b[K", "\rb\x1b[K", "\r\x1b[K"]);
  });

  it("a line wider than the terminal is cut, so that \\r returns to its start", () => {
    const r = recorder(20);
    r.line.update("reconcile: rule people 12,000/100,000 users (12%)");
    expect(r.writes).toEqual(["\rreconcile: rule pe…\x1b[K"]); // 19 columns: the last one stays free
  });

  it("reconcileProgress draws a new rule or phase at once, and throttles within one", () => {
    const r = recorder();
    const on = reconcileProgress(r.line);
    on({ rule: "a", phase: "expected", done: 500, total: 1000 });
    on({ rule: "a", phase: "expected", done: 1000, total: 1000 }); // same phase, 0 ms later: skipped
    on({ rule: "a", phase: "directory", done: 500 });
    on({ rule: "b", phase: "expected", done: 500, total: 1000 });
    expect(r.writes).toEqual([
      "\rreconcile: rule a 500/1,000 users (50%)\x1b[K",
      "\rreconcile: rule a 500 directory entries checked\x1b[K",
      "\rreconcile: rule b 500/1,000 users (50%)\x1b[K",
    ]);
  });
});

describe("progressFor", () => {
  const stream = (isTTY: boolean) => ({ isTTY, columns: 80, writes: [] as string[], write(s: string) { this.writes.push(s); } });

  it("nothing when the stream is not a terminal, or with --json", () => {
    expect(progressFor(stream(false), false)).toBeUndefined();
    expect(progressFor(stream(true), true)).toBeUndefined();
    expect(progressFor({ write: () => true }, false)).toBeUndefined();
  });

  it("a progress line on a terminal", () => {
    const s = stream(true);
    const line = progressFor(s, false)!;
    line.update("x");
    line.done();
    expect(s.writes).toEqual(["\rx\x1b[K", "\r\x1b[K"]);
  });
});
