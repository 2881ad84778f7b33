/**
 * A progress line for long CLI runs (`scimbridge reconcile`): one line on stderr, redrawn in place
 * with \r at most ~10 times a second, and only on a terminal without --json. A pipe, a log file
 * or a cron mail gets nothing (a \r-redrawn line is noise there, and JSON output must stay clean).
 * The formatter and the throttle are pure, for tests; progressFor() is the only part that looks
 * at the stream.
 */
import type { ReconcileProgress } from "../hooks/reconcile/reconcile.js";

export const PROGRESS_INTERVAL_MS = 100;

const n = (x: number) => x.toLocaleString("en-US");

/** `reconcile: rule people 12,000/100,000 users (12%)`, and the like for the later phases. */
export function formatReconcileProgress(p: ReconcileProgress): string {
  switch (p.phase) {
    case "expected": {
      if (p.total === undefined) return `reconcile: rule ${p.rule} ${n(p.done)} users read`;
      const pct = p.total > 0 ? Math.min(100, Math.floor((p.done * 100) / p.total)) : 100;
      return `reconcile: rule ${p.rule} ${n(p.done)}/${n(p.total)} users (${pct}%)`;
    }
    case "directory":
      return `reconcile: rule ${p.rule} ${n(p.done)} directory entries checked`;
    case "repair":
      return `reconcile: rule ${p.rule} ${n(p.done)} extra entries deleted`;
  }
}

export interface ProgressLine {
  /** Draws `text` unless the last draw was under the interval ago; `force` draws anyway. */
  update(text: string, force?: boolean): void;
  /** Erases the line, if anything was drawn, so the report that follows starts clean. */
  done(): void;
}

export function progressLine(o: { write: (s: string) => void; now?: () => number; intervalMs?: number; columns?: number | undefined }): ProgressLine {
  const now = o.now ?? Date.now;
  const interval = o.intervalMs ?? PROGRESS_INTERVAL_MS;
  let last = -Infinity;
  let drawn = false;
  // A line wider than the terminal wraps, and \r then returns to the wrapped part only.
  const fit = (text: string) => (o.columns && text.length >= o.columns ? text.slice(0, Math.max(o.columns - 2, 1)) + "…" : text);
  return {
    update(text, force = false) {
      const t = now();
      if (!force && t - last < interval) return;
      last = t;
      drawn = true;
      o.write(`\r${fit(text)}\x1b[K`);
    },
    done() {
      if (drawn) o.write("\r\x1b[K");
      drawn = false;
    },
  };
}

/** Reconcile progress onto a line; a new rule or phase is drawn at once (throttling is within one). */
export function reconcileProgress(line: ProgressLine): (p: ReconcileProgress) => void {
  let key = "";
  return (p) => {
    const k = `${p.rule}\n${p.phase}`;
    line.update(formatReconcileProgress(p), k !== key);
    key = k;
  };
}

/** A progress line on `stream` when it is a terminal and the output is not JSON; else undefined. */
export function progressFor(stream: { isTTY?: boolean; columns?: number; write(s: string): unknown }, json: boolean): ProgressLine | undefined {
  if (json || !stream.isTTY) return undefined;
  return progressLine({ write: (s) => void stream.write(s), columns: stream.columns });
}
