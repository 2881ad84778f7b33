import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENTERPRISE, testApp, user, type TestApp } from "../helpers/app.js";

let t: TestApp;
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await testApp({ scim: { maxPageSize: 50, defaultPageSize: 10 } });
  const people = [
    user("alice", { displayName: "Alice", title: "Engineer", emails: [{ value: "alice@work.example", type: "work", primary: true }, { value: "ally@home.example", type: "home" }], [ENTERPRISE]: { department: "R&D" } }),
    user("bob", { displayName: "Bob", title: "Manager", active: false, emails: [{ value: "bob@home.example", type: "home" }] }),
    user("Carol", { displayName: "carol", title: "Engineer", externalId: "ext-c", [ENTERPRISE]: { department: "Sales" } }),
    user("dave", { displayName: "Dave", emails: [{ value: "dave@work.example", type: "work" }] }),
  ];
  for (const p of people) {
    const res = await t.http.post("/scim/v2/Users").set(t.auth).send(p);
    expect(res.status).toBe(201);
    ids[p.userName] = res.body.id;
  }
  for (let i = 0; i < 60; i++) {
    await t.http.post("/scim/v2/Users").set(t.auth).send({ schemas: [user("x").schemas[0]], userName: `bulk${String(i).padStart(2, "0")}` });
  }
});
afterAll(() => t.close());

const list = (query: Record<string, string | number>) => t.http.get("/scim/v2/Users").set(t.auth).query(query);
const names = (body: { Resources: { userName: string }[] }) => body.Resources.map((r) => r.userName);

describe("GET /Users filters, answered in SQL", () => {
  it.each<[string, string[]]>([
    ['userName eq "ALICE"', ["alice"]],
    ['username Eq "carol"', ["Carol"]],
    ['title eq "Engineer" and active eq true', ["alice", "Carol"]],
    ['title eq "Manager" or displayName eq "dave"', ["bob", "dave"]],
    ['not (title pr) and userName sw "d"', ["dave"]],
    ['(title eq "Engineer" or title eq "Manager") and not (userName eq "bob")', ["alice", "Carol"]],
    ['emails[type eq "work"].value eq "ALICE@WORK.EXAMPLE"', ["alice"]],
    ['emails[type eq "work" and value co "home"]', []],
    ['emails eq "bob@home.example"', ["bob"]],
    ['emails.type eq "home"', ["alice", "bob"]],
    [`${ENTERPRISE}:department eq "r&d"`, ["alice"]],
    ['externalId eq "ext-c"', ["Carol"]],
    ['active eq false', ["bob"]],
    ['userName eq "nobody"', []],
  ])("%s", async (filter, expected) => {
    const res = await list({ filter });
    expect(res.status).toBe(200);
    expect(names(res.body)).toEqual(expected);
    expect(res.body.totalResults).toBe(expected.length);
  });

  it.each(['userName eq', 'nosuchattr eq "x"', '(userName eq "a"', 'userName xx "a"'])("unanswerable filter %s: 400 invalidFilter", async (filter) => {
    const res = await list({ filter });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "400", scimType: "invalidFilter" });
  });
});

describe("paging and sorting", () => {
  it("returns integer paging fields, a true totalResults and only the page", async () => {
    const res = await list({ startIndex: 3, count: 5 });
    expect(res.body).toMatchObject({ totalResults: 64, startIndex: 3, itemsPerPage: 5 });
    expect(names(res.body)).toEqual(["Carol", "dave", "bulk00", "bulk01", "bulk02"]);
  });

  it("pages are stable and disjoint", async () => {
    const seen: string[] = [];
    for (let start = 1; start <= 64; start += 7) seen.push(...names((await list({ startIndex: start, count: 7 })).body));
    expect(seen).toHaveLength(64);
    expect(new Set(seen).size).toBe(64);
  });

  it("uses the default page size without count, clamps count to the maximum, and reads -1 as the maximum", async () => {
    expect((await list({})).body.itemsPerPage).toBe(10);
    expect((await list({ count: 1000 })).body.itemsPerPage).toBe(50);
    expect((await list({ count: -1 })).body.itemsPerPage).toBe(50);
  });

  it("count=0 returns totals only", async () => {
    const res = await list({ count: 0, filter: 'title eq "Engineer"' });
    expect(res.body).toMatchObject({ totalResults: 2, itemsPerPage: 0 });
    expect(res.body.Resources).toEqual([]);
  });

  it("startIndex below 1 is read as 1", async () => {
    expect((await list({ startIndex: 0, count: 1 })).body.startIndex).toBe(1);
  });

  it("non-integer count: 400 invalidValue", async () => {
    expect((await list({ count: "ten" })).status).toBe(400);
  });

  it("sorts by userName case-insensitively, both orders", async () => {
    const asc = names((await list({ filter: 'title pr', sortBy: "userName" })).body);
    expect(asc).toEqual(["alice", "bob", "Carol"]);
    const desc = names((await list({ filter: 'title pr', sortBy: "username", sortOrder: "descending" })).body);
    expect(desc).toEqual(["Carol", "bob", "alice"]);
  });

  it("sorts by a nested attribute", async () => {
    const res = await list({ filter: `${ENTERPRISE}:department pr`, sortBy: `${ENTERPRISE}:department`, sortOrder: "descending" });
    expect(names(res.body)).toEqual(["Carol", "alice"]);
  });
});

describe("attributes and excludedAttributes", () => {
  it("attributes keeps only what was asked, plus id and schemas", async () => {
    const res = await list({ filter: 'userName eq "alice"', attributes: "userName,emails.value" });
    const [r] = res.body.Resources;
    expect(Object.keys(r).sort()).toEqual(["emails", "id", "schemas", "userName"]);
    expect(r.emails).toEqual([{ value: "alice@work.example" }, { value: "ally@home.example" }]);
  });

  it("excludedAttributes drops attributes but never id or schemas", async () => {
    const res = await t.http.get(`/scim/v2/Users/${ids.alice}`).set(t.auth).query({ excludedAttributes: "emails,id,schemas,name" });
    expect(res.body.emails).toBeUndefined();
    expect(res.body.name).toBeUndefined();
    expect(res.body.id).toBe(ids.alice);
    expect(res.body.schemas).toBeDefined();
  });
});

describe("POST /.search", () => {
  it("searches users with a SearchRequest body", async () => {
    const res = await t.http
      .post("/scim/v2/Users/.search")
      .set(t.auth)
      .send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], filter: 'title eq "Engineer"', attributes: ["userName"], startIndex: 1, count: 10 });
    expect(res.status).toBe(200);
    expect(names(res.body)).toEqual(["alice", "Carol"]);
  });

  it("searches across resource types at the root", async () => {
    await t.http.post("/scim/v2/Groups").set(t.auth).send({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Engineers" });
    const res = await t.http.post("/scim/v2/.search").set(t.auth).send({ filter: 'displayName sw "e"', count: 10 });
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources[0].displayName).toBe("Engineers");
    const both = await t.http.post("/scim/v2/.search").set(t.auth).send({ filter: 'displayName sw "a"', count: 10 });
    expect(both.body.Resources.map((r: { displayName: string }) => r.displayName)).toEqual(["Alice"]);
  });
});
