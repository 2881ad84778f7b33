/**
 * The process logger (pino, JSON lines). Redaction is a second line of defence: request bodies and
 * credentials are never passed to the logger in the first place.
 */
import { pino, type Logger } from "pino";

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "scimbridge" },
      redact: {
        paths: ["password", "*.password", "token", "*.token", "authorization", "*.authorization", "bindPassword", "*.bindPassword"],
        censor: "[redacted]",
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}

export type { Logger };
