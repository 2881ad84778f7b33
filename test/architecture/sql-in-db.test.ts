// All SQL lives in db/: nothing in server/, hooks/, schemas/ or bench/ issues a statement, builds
// one, or holds what issues them (a better-sqlite3 handle, drizzle's query builder and tables).
// Those modules ask a store module in db/ named for what it holds. Read with the TypeScript
// compiler, so a comment that quotes SQL is no finding and a string that holds some is.
import { join, normalize } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { importsOf, nodesOf, parse, sourceFiles, where } from "./source.js";

const FOLDERS = ["server", "hooks", "schemas", "bench"];

/**
 * Files whose SQL is still being moved into db/. The test fails when one of them has none left,
 * so that the list shrinks to empty.
 */
const PENDING = new Set<string>([]);

/** SQL in a string, as this code base writes it (upper-case keywords). */
const SQL_TEXT: [RegExp, string][] = [
  [/\bSELECT\b[\s\S]*\bFROM\b/, "SELECT … FROM"],
  [/\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b/, "INSERT INTO"],
  [/\bUPDATE\s+["\w]+\s+SET\b/, "UPDATE … SET"],
  [/\bDELETE\s+FROM\b/, "DELETE FROM"],
  [/\bPRAGMA\b/, "PRAGMA"],
  [/\bCREATE\s+(?:TABLE|INDEX)\b/, "CREATE TABLE"],
  [/\bBEGIN\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED|TRANSACTION)\b/, "BEGIN"],
];

/** What issues SQL on a handle: better-sqlite3's Database (`sqlite`, `$client`) or drizzle's (`db`). */
const HANDLE_METHODS: Record<string, Set<string>> = {
  sqlite: new Set(["prepare", "exec", "transaction", "pragma", "function", "backup", "serialize"]),
  $client: new Set(["prepare", "exec", "transaction", "pragma", "function", "backup", "serialize"]),
  db: new Set(["transaction", "run", "all", "get", "values", "select", "selectDistinct", "insert", "update", "delete", "with", "$count"]),
};

/** Modules whose (non-type) import means building or running SQL. */
const SQL_MODULES = /^(?:better-sqlite3|drizzle-orm(?:\/.*)?)$/;

export interface Finding {
  at: string;
  what: string;
}

const nameOf = (e: ts.Expression): string | undefined => (ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : undefined);

/** The literal text of a string or template (a substitution reads as `?`). */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((s) => `?${s.literal.text}`).join("");
  return undefined;
}

export function findSql(source: ts.SourceFile): Finding[] {
  const out: Finding[] = [];
  const add = (node: ts.Node, what: string) => out.push({ at: where(source, node), what });
  for (const ref of importsOf(source)) {
    if (ref.typeOnly) continue;
    if (SQL_MODULES.test(ref.specifier)) add(ref.node, `imports ${ref.specifier}`);
    else if (ref.specifier.startsWith(".") && normalize(join(source.fileName, "..", ref.specifier)).split("\\").join("/") === "db/schema.js") add(ref.node, "imports the tables of db/schema.ts");
  }
  for (const node of nodesOf(source)) {
    if (ts.isPropertyAccessExpression(node) && node.name.text === "$client") add(node, "$client");
    if (ts.isTaggedTemplateExpression(node) && nameOf(node.tag) === "sql") add(node, "sql`…`");
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      const receiver = nameOf(node.expression.expression);
      if (method === "prepare") add(node, "prepare()");
      else if (method === "exec" && node.arguments[0] && literalText(node.arguments[0]) !== undefined) add(node, "exec() of a statement");
      else if (receiver !== undefined && HANDLE_METHODS[receiver]?.has(method)) add(node, `${receiver}.${method}()`);
      else if (receiver === "sql" && method === "raw") add(node, "sql.raw()");
    }
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) continue;
    const text = literalText(node);
    if (text === undefined || ts.isTemplateSpan(node.parent) || ts.isTemplateExpression(node.parent)) continue;
    const hit = SQL_TEXT.find(([re]) => re.test(text));
    if (hit) add(node, `SQL in a string (${hit[1]})`);
  }
  return out;
}

const scan = (text: string, file = "server/example.ts") => findSql(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)).map((f) => `${f.at} ${f.what}`);

describe("SQL", () => {
  it("is found in every form it takes, and not in comments or in other uses of the same words (the scanner itself)", () => {
    const found = scan(
      [
        'import { eq } from "drizzle-orm";',
        'import { users } from "../db/schema.js";',
        'import type { Db } from "../db/open.js";',
        'import type { SQL } from "drizzle-orm";',
        'store.sqlite.prepare("SELECT id FROM users").all();',
        "db.$client.transaction(() => undefined).immediate();",
        'handle.exec("DELETE FROM holder");',
        "const q = sql`SELECT 1`;",
        "store.db.select().from(users).all();",
        "const text = `UPDATE tokens SET hash = ${h}`;",
        'const p = "PRAGMA data_version";',
        "// SELECT name FROM tokens, quoted in a comment",
        'const m = /^(\\w+)$/.exec(input);',
        'const note = "select a user from the list";',
        "store.transaction(() => undefined);",
      ].join("\n"),
    );
    expect(found).toEqual([
      "server/example.ts:1 imports drizzle-orm",
      "server/example.ts:2 imports the tables of db/schema.ts",
      "server/example.ts:5 prepare()",
      "server/example.ts:5 SQL in a string (SELECT … FROM)",
      "server/example.ts:6 $client.transaction()",
      "server/example.ts:6 $client",
      "server/example.ts:7 exec() of a statement",
      "server/example.ts:7 SQL in a string (DELETE FROM)",
      "server/example.ts:8 sql`…`",
      "server/example.ts:9 db.select()",
      "server/example.ts:10 SQL in a string (UPDATE … SET)",
      "server/example.ts:11 SQL in a string (PRAGMA)",
    ]);
  });

  it(`is issued nowhere in ${FOLDERS.join("/, ")}/ (files still being moved are listed, and fail the test once clean)`, () => {
    const files = sourceFiles(FOLDERS);
    expect(files.length).toBeGreaterThan(50); // the scan found the code
    const findings = new Map(files.map((f) => [f, findSql(parse(f))] as const));
    const outside = [...findings].filter(([f]) => !PENDING.has(f)).flatMap(([, fs]) => fs.map((x) => `${x.at}: ${x.what}`));
    const clean = [...PENDING].filter((f) => !findings.get(f)?.length).map((f) => `${f} (no SQL left: remove it from PENDING)`);
    expect({ outside, clean }).toEqual({ outside: [], clean: [] });
  });
});
