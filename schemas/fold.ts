/**
 * Case folding for attributes with caseExact=false (RFC 7643 §2.2). The same function fills the
 * indexed key columns and is registered in SQLite as scim_fold(), so SQL comparisons on JSON values
 * fold exactly like the key columns (SQLite's own lower() folds ASCII only).
 */
export function fold(value: string): string {
  return value.normalize("NFC").toLowerCase();
}

/** Name of the SQL function registered on every connection (db/open.ts). */
export const FOLD_SQL_FUNCTION = "scim_fold";
