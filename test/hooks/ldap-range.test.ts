/**
 * Range retrieval (AD MaxValRange): replayed against canned replies shaped as AD sends them, since
 * Samba does not enforce the limit (ldap-targets.md §1.5).
 */
import type { Entry, SearchOptions } from "ldapts";
import { describe, expect, it } from "vitest";
import { rangedValues, readAllValues } from "../../hooks/ldap/range.js";

const DN = "CN=Big,OU=Groups,DC=example,DC=com";
const members = Array.from({ length: 3200 }, (_, i) => `CN=User ${i},OU=People,DC=example,DC=com`);

/** A fake AD: answers `member;range=a-*` with at most 1,500 values, the last page ending in `-*`. */
function fakeAd(values: string[], page = 1500) {
  const asked: string[] = [];
  return {
    asked,
    async search(dn: string, o: SearchOptions = {}) {
      const attr = (o.attributes as string[])[0]!;
      asked.push(attr);
      const m = /;range=(\d+)-\*$/.exec(attr);
      const start = m ? Number(m[1]) : 0;
      const end = Math.min(start + page, values.length);
      const key = end >= values.length ? `member;range=${start}-*` : `member;range=${start}-${end - 1}`;
      const entry = { dn, member: [], [key]: values.slice(start, end) } as unknown as Entry;
      return { searchEntries: [entry], searchReferences: [] };
    },
  };
}

describe("range retrieval", () => {
  it("follows member;range=0-1499 → 1500-* until the name ends in -*", async () => {
    const ad = fakeAd(members);
    const all = await readAllValues(ad, DN, "member");
    expect(all).toEqual(members);
    expect(ad.asked).toEqual(["member", "member;range=1500-*", "member;range=3000-*"]);
  });

  it("starts from an entry a paged search already returned", async () => {
    const ad = fakeAd(members);
    const first = { dn: DN, member: [], "member;range=0-1499": members.slice(0, 1500) } as unknown as Entry;
    expect(await readAllValues(ad, DN, "member", first)).toHaveLength(3200);
    expect(ad.asked).toEqual(["member;range=1500-*", "member;range=3000-*"]);
  });

  it("a server without ranges (OpenLDAP, Samba) answers in one read", async () => {
    const plain = { async search() { return { searchEntries: [{ dn: DN, member: members.slice(0, 3) } as unknown as Entry], searchReferences: [] }; } };
    expect(await readAllValues(plain, DN, "member")).toEqual(members.slice(0, 3));
    expect(rangedValues({ dn: DN, member: ["x"] } as unknown as Entry, "member")).toBeUndefined();
  });

  it("is bounded", async () => {
    const endless = { async search() { return { searchEntries: [{ dn: DN, "member;range=0-0": ["x"] } as unknown as Entry], searchReferences: [] }; } };
    await expect(readAllValues(endless, DN, "member", undefined, 5)).rejects.toThrow(/did not end after 5 rounds/);
  });
});
