/**
 * How every command writes: data on stdout (one JSON document, or NDJSON one record a line, or
 * text), messages for a person on stderr. A reader that goes away early (`| head`) ends the
 * output quietly: EPIPE is not an error of ours, so no stack trace and exit status 0.
 */
import { once } from "node:events";

/** Exit codes (README "The command"). */
export const EXIT = { ok: 0, failed: 1, usage: 2, drift: 3 } as const;

/** Wrong arguments: exit 2 with the usage hint. */
export class UsageError extends Error {}
/** A runtime failure with a message for the operator (no stack trace): exit 1 unless given. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

let readerGone = false;
const isEpipe = (e: unknown) => (e as { code?: string }).code === "EPIPE";

/** Installs the EPIPE handling on stdout and stderr; called once by the entry point. */
export function guardPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e) => {
      if (!isEpipe(e)) throw e;
      readerGone = true;
      // Whatever was still to be written has no reader: end now, successfully (as `yes | head` does).
      process.exit(process.exitCode ?? 0);
    });
  }
}

/** True once stdout's reader has closed the pipe: long outputs stop producing. */
export const outputClosed = () => readerGone;

/** One line of data on stdout. */
export function out(line: string): void {
  if (!readerGone) process.stdout.write(line + "\n");
}

/** One line for a person on stderr. */
export function say(line: string): void {
  if (!readerGone) process.stderr.write(line + "\n");
}

/**
 * Writes records as they come, one line each, waiting for the pipe to drain and giving the event
 * loop a turn every `batch` lines, so an EPIPE is seen and a large output never sits in memory.
 */
export async function streamLines<T>(rows: Iterable<T> | AsyncIterable<T>, format: (row: T) => string, batch = 256): Promise<number> {
  let n = 0;
  for await (const row of rows) {
    if (readerGone) break;
    if (!process.stdout.write(format(row) + "\n")) await Promise.race([once(process.stdout, "drain"), once(process.stdout, "close")]);
    if (++n % batch === 0) await new Promise((r) => setImmediate(r));
  }
  return n;
}

/** The --json form of an error, on stderr (stdout holds only data): `{"error": {...}}`. */
export function jsonError(message: string, exitCode: number, issues?: string[]): string {
  return JSON.stringify({ error: { message, exitCode, ...(issues?.length ? { issues } : {}) } });
}
