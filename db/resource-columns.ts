/**
 * The columns a User or Group row keeps beside its JSON, derived from the attributes the same way
 * on every engine: the *_key columns hold fold() (schemas/fold.ts) computed here in JavaScript, so
 * neither database's own case folding is relied on. The JSON stays the truth for everything else.
 */
import { fold } from "../schemas/fold.js";

/** A non-empty string, else null. */
export const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

export function userColumns(a: Record<string, unknown>) {
  const userName = String(a.userName);
  const displayName = str(a.displayName);
  return {
    userName,
    userNameKey: fold(userName),
    externalId: str(a.externalId),
    displayNameKey: displayName === null ? null : fold(displayName),
    active: typeof a.active === "boolean" ? a.active : null,
  };
}

export function groupColumns(a: Record<string, unknown>) {
  const displayName = String(a.displayName);
  return { displayName, displayNameKey: fold(displayName), externalId: str(a.externalId) };
}

/** A User's emails as rows of their own (indexed lookups on value_key). */
export function emailRows(id: string, a: Record<string, unknown>) {
  const emails = Array.isArray(a.emails) ? (a.emails as Record<string, unknown>[]) : [];
  return emails.map((e, position) => {
    const value = str(e.value);
    return { userId: id, position, value, valueKey: value === null ? null : fold(value), type: str(e.type), primary: e.primary === true };
  });
}
