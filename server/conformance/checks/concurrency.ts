/** Concurrency: simultaneous member adds lose none; simultaneous creates of one userName give one 201. */
import type { Check } from "../types.js";
import { attr } from "../compare.js";
import { USER } from "../suites/common.js";
import { createGroup, createUser, memberValues, patchBody, read, RFC7643, RFC7644, uniqueName } from "./support.js";

const N = 8;

export const concurrencyChecks: Check[] = [
  {
    id: "concurrency.member-adds",
    area: "concurrency",
    title: `${N} concurrent PATCH adds of different members to one group lose none`,
    // RFC 7644 §3.5.2: a 200/204 answer says the operations were applied; a lost update breaks that.
    source: `${RFC7644}#section-3.5.2`,
    level: "must",
    async run(http, ctx) {
      const users: string[] = [];
      for (let i = 0; i < N; i++) users.push((await createUser(http, ctx, `cm${i}`)).id);
      const { id: group } = await createGroup(http, ctx, "cg");
      const answers = await Promise.all(users.map((u) => http.send({ method: "PATCH", path: `/Groups/${group}`, body: patchBody({ op: "add", path: "members", value: [{ value: u }] }) })));
      const ok = answers.filter((r) => r.status === 200 || r.status === 204).length;
      const got = memberValues(await read(http, `/Groups/${group}`));
      const lost = users.filter((u, i) => [200, 204].includes(answers[i]!.status) && !got.includes(u));
      return lost.length ? `${ok} adds succeeded but the group holds ${got.length} members: ${lost.length} lost` : ok === N ? undefined : `${N - ok} of ${N} adds were refused (${answers.map((r) => r.status).join(",")})`;
    },
  },
  {
    id: "concurrency.duplicate-creates",
    area: "concurrency",
    title: `${N} concurrent creates of one userName give one 201 and ${N - 1} 409`,
    // RFC 7643 §4.1.1: userName MUST be unique; RFC 7644 §3.3: a duplicate is 409 uniqueness.
    source: `${RFC7643}#section-4.1.1`,
    level: "must",
    async run(http, ctx) {
      const userName = uniqueName(ctx, "dup");
      const answers = await Promise.all(Array.from({ length: N }, () => http.send({ method: "POST", path: "/Users", body: { schemas: [USER], userName } })));
      const created = answers.filter((r) => r.status === 201).length;
      const conflicts = answers.filter((r) => r.status === 409).length;
      const ids = new Set(answers.map((r) => attr(r.body, "id")).filter((id) => typeof id === "string"));
      return created === 1 && conflicts === N - 1 ? undefined : `${created} × 201 and ${conflicts} × 409 (statuses ${answers.map((r) => r.status).join(",")}; ${ids.size} distinct ids)`;
    },
  },
];
