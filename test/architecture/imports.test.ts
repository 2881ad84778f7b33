// The import graph of server/, hooks/, db/ and schemas/ has no cycle. A cycle means no module of it
// can be read, tested or replaced without the others, and at run time one of them sees the
// others half-initialised. Type-only imports count: they cannot form a cycle at run time, but the
// rule is about understanding the code (to read a module you read what it imports, types
// included), and a type-only import turns into a value import with the next edit.
import { existsSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { importsOf, parse, ROOT, sourceFiles } from "./source.js";

/**
 * Cycles that exist today and are being removed, each as the files that import one another (a
 * strongly connected component of the graph). A cycle among some of a listed entry's files is
 * that entry, smaller; any other cycle fails the test, and so does a listed entry of which no
 * cycle is left, so that the list is emptied as they go.
 */
const KNOWN_CYCLES: string[][] = [];

const FOLDERS = ["server", "hooks", "db", "schemas"];

/** The repository-relative .ts file a relative specifier names (`./x.js` is `./x.ts`), if any. */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = normalize(join(dirname(from), specifier)).split("\\").join("/");
  const candidates = [base.replace(/\.js$/, ".ts"), `${base}.ts`, `${base}/index.ts`];
  return candidates.find((c) => c.endsWith(".ts") && existsSync(join(ROOT, c)));
}

function importGraph(files: string[]): Map<string, Set<string>> {
  const inScope = new Set(files);
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const ref of importsOf(parse(file))) {
      const target = resolve(file, ref.specifier);
      if (target !== undefined && inScope.has(target)) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cyclesOf(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (;;) {
      const w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || graph.get(v)?.has(v)) out.push(component.sort());
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** One import path around a cycle, from its first file back to it (`a → b → a`), and its other files. */
function cyclePath(graph: Map<string, Set<string>>, component: string[]): string {
  const members = new Set(component);
  const start = component[0]!;
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = from.get(u)) path.splice(1, 0, u);
        const others = component.filter((f) => !path.includes(f));
        return [...path, start].join(" → ") + (others.length ? ` (the cycle also runs through ${others.join(", ")})` : "");
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return component.join(" → ");
}

/** Whether every file of a found cycle is in the listed one. */
const within = (found: string[], listed: string[]) => found.every((f) => listed.includes(f));

describe("the import graph", () => {
  it("finds a cycle, prints it as a path, and finds none in a tree (the checker itself)", () => {
    const graph = new Map([
      ["a.ts", new Set(["b.ts"])],
      ["b.ts", new Set(["c.ts", "d.ts"])],
      ["c.ts", new Set(["a.ts"])],
      ["d.ts", new Set<string>()],
      ["e.ts", new Set(["e.ts"])],
    ]);
    expect(cyclesOf(graph)).toEqual([["a.ts", "b.ts", "c.ts"], ["e.ts"]]);
    expect(cyclePath(graph, ["a.ts", "b.ts", "c.ts"])).toBe("a.ts → b.ts → c.ts → a.ts");
    graph.get("b.ts")!.add("a.ts");
    expect(cyclePath(graph, ["a.ts", "b.ts", "c.ts"])).toBe("a.ts → b.ts → a.ts (the cycle also runs through c.ts)");
    expect(cyclesOf(new Map([["a.ts", new Set(["b.ts"])], ["b.ts", new Set<string>()]]))).toEqual([]);
  });

  it(`of ${FOLDERS.join("/, ")}/ has no cycle but those listed as being removed, and each listed one still exists`, () => {
    const files = sourceFiles(FOLDERS);
    expect(files.length).toBeGreaterThan(50); // the scan found the code
    const graph = importGraph(files);
    const found = cyclesOf(graph);
    const unexpected = found.filter((c) => !KNOWN_CYCLES.some((k) => within(c, k))).map((c) => cyclePath(graph, c));
    const gone = KNOWN_CYCLES.filter((k) => !found.some((c) => within(c, k))).map((k) => `${k.join(", ")} (no longer a cycle: remove it from KNOWN_CYCLES)`);
    expect({ unexpected, gone }).toEqual({ unexpected: [], gone: [] });
  });

  it("server/ reaches the directories (hooks/ldap/) only through the delivery package's entry, hooks/delivery/index.ts", () => {
    const files = sourceFiles(["server"]);
    const reaching = files.flatMap((file) =>
      importsOf(parse(file))
        .map((ref) => resolve(file, ref.specifier))
        .filter((target) => target?.startsWith("hooks/ldap/"))
        .map((target) => `${file} imports ${target}`),
    );
    expect(reaching).toEqual([]);
    // The entry does export what server/ needs of them (the check above is not vacuous).
    expect(importsOf(parse("hooks/delivery/index.ts")).some((ref) => resolve("hooks/delivery/index.ts", ref.specifier)?.startsWith("hooks/ldap/"))).toBe(true);
  });
});
