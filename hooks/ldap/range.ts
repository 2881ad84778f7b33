/**
 * Range retrieval of large multi-valued attributes (Active Directory's MaxValRange, 1,500 values
 * by default): a read of `member` on a big group comes back as `member;range=0-1499` (plus an empty
 * `member`), and the rest must be asked for as `member;range=1500-*` and so on until the returned
 * name ends in `-*`. https://learn.microsoft.com/en-us/previous-versions/windows/desktop/ldap/searching-using-range-retrieval
 * (ldap-targets.md §1.5; Samba does not enforce it, so the loop is unit-tested with canned replies.)
 */
import type { Client, Entry } from "ldapts";

const RANGED = /^(.+);range=(\d+)-(\d+|\*)$/i;

/** The ranged form of `attribute` in an entry, if the server answered with one. */
export function rangedValues(entry: Entry, attribute: string): { values: string[]; next?: number } | undefined {
  for (const [key, raw] of Object.entries(entry)) {
    const m = RANGED.exec(key);
    if (!m || m[1]!.toLowerCase() !== attribute.toLowerCase()) continue;
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => (Buffer.isBuffer(v) ? v.toString("utf8") : String(v)));
    return m[3] === "*" ? { values } : { values, next: Number(m[3]) + 1 };
  }
  return undefined;
}

/**
 * All values of `attribute` of the entry at `dn`, following range retrieval when the server
 * uses it; `first` is the entry as a search already returned it (saves the first round trip).
 * Bounded: stops after `maxRounds` (a million values at AD's 1,500 per round).
 */
export async function readAllValues(client: Pick<Client, "search">, dn: string, attribute: string, first?: Entry, maxRounds = 700): Promise<string[]> {
  let entry = first;
  if (!entry) entry = (await client.search(dn, { scope: "base", attributes: [attribute] })).searchEntries[0];
  if (!entry) return [];
  let ranged = rangedValues(entry, attribute);
  if (!ranged) {
    const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
    const raw = key === undefined ? [] : entry[key];
    return (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((v) => (Buffer.isBuffer(v) ? v.toString("utf8") : String(v)));
  }
  const all = [...ranged.values];
  for (let round = 0; ranged.next !== undefined; round++) {
    if (round >= maxRounds) throw new Error(`range retrieval of ${attribute} on ${dn} did not end after ${maxRounds} rounds`);
    const next: Entry | undefined = (await client.search(dn, { scope: "base", attributes: [`${attribute};range=${ranged.next}-*`] })).searchEntries[0];
    ranged = next ? rangedValues(next, attribute) : undefined;
    if (!ranged) break; // the server stopped answering with a range: nothing more
    all.push(...ranged.values);
  }
  return all;
}
