/**
 * The documentation works as written: every ```yaml block of README.md and docs/*.md (not
 * docs/research) passes `config check`, and every ```sh / ```bash block runs here, in a scratch
 * directory with `scimbridge` on PATH (this checkout's CLI) and /etc/scimbridge/ mapped to a
 * scratch copy (the one rewrite made to a block).
 *
 * A block that cannot run here is marked on the line before its fence with
 *   <!-- docs-test: skip <why> -->
 * (it needs an identity provider, the server started by `npm start`, or is the test suite itself);
 * the reason is required. Environment variables a YAML block names (`${NAME}`) get a placeholder
 * value long enough for every length check, as a deployment's secrets would.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { ConfigError, loadConfig } from "../../server/config/load.js";
import { checkConfig } from "../../server/cli/config-check.js";
import { ROOT } from "../helpers/cli.js";

const SKIP = /^<!-- docs-test: skip (.+) -->$/;


interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
  skip?: string | undefined;
}

/** Fenced blocks with their language, dedented by their fence's indentation (blocks inside list items). */
export function fencedBlocks(file: string, markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!.slice(indent));
    const marker = SKIP.exec((lines[i - 1] ?? "").trim());
    blocks.push({ file, line: i + 1, lang: open[2]!, text: body.join("\n") + "\n", skip: marker?.[1] });
    i = j;
  }
  return blocks;
}

const docs = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const blocks = docs.flatMap((f) => fencedBlocks(f, readFileSync(join(ROOT, f), "utf8")));
const yamlBlocks = blocks.filter((b) => b.lang === "yaml");
const shellBlocks = blocks.filter((b) => b.lang === "sh" || b.lang === "bash");

const dir = mkdtempSync(join(tmpdir(), "scimbridge-docs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("docs YAML blocks pass config check", () => {
  it("there are blocks to check in every guide", () => {
    for (const f of ["README.md", "docs/pingfederate.md", "docs/pingone.md", "docs/entra.md", "docs/okta.md"]) expect(yamlBlocks.filter((b) => b.file === f).length, f).toBeGreaterThan(0);
  });

  it.each(yamlBlocks.map((b) => [`${b.file}:${b.line}`, b] as const))("%s", (_where, b) => {
    expect(b.skip, "YAML blocks are never skipped").toBeUndefined();
    const file = join(dir, `${b.file.replace(/\W/g, "_")}-${b.line}.yaml`);
    writeFileSync(file, b.text);
    const env = Object.fromEntries([...b.text.matchAll(/\$\{([A-Za-z_]\w*)\}/g)].map((m) => [m[1]!, "placeholder-secret-value-0123456789-abcdef"]));
    try {
      checkConfig(loadConfig(file, env));
    } catch (e) {
      if (e instanceof ConfigError) throw new Error(`${b.file}:${b.line}: ${e.message}`);
      throw e;
    }
  });
});

describe("docs shell blocks run as written", () => {
  // `scimbridge` on PATH is this checkout's CLI. Each block gets its own working directory and
  // /etc/scimbridge, with a configuration and a migrated, empty database, as after installing.
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const tsx = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
  writeFileSync(join(bin, "scimbridge"), `#!/bin/sh\nexec "${process.execPath}" --import ${tsx} ${join(ROOT, "server", "cli.ts")} "$@"\n`);
  chmodSync(join(bin, "scimbridge"), 0o755);
  const template = join(dir, "template.db");
  beforeAll(() => openStore(template).close());

  function scratch(name: string): { work: string; etc: string } {
    const root = join(dir, name);
    const etc = join(root, "etc", "scimbridge");
    const work = join(root, "work");
    mkdirSync(etc, { recursive: true });
    mkdirSync(join(root, "var"));
    mkdirSync(work);
    copyFileSync(template, join(root, "var", "scimbridge.db"));
    const config = `storage: { file: ${join(root, "var", "scimbridge.db")} }\nlogging: { level: warn }\n`;
    writeFileSync(join(etc, "scimbridge.yaml"), config);
    writeFileSync(join(work, "scimbridge.yaml"), config);
    return { work, etc };
  }

  it("every skipped block says why", () => {
    for (const b of shellBlocks.filter((s) => s.skip !== undefined)) expect(b.skip!.length, `${b.file}:${b.line}`).toBeGreaterThan(10);
    // Most of what a reader types can run here.
    expect(shellBlocks.filter((b) => b.skip === undefined).length).toBeGreaterThanOrEqual(5);
  });

  const runnable = shellBlocks.filter((b) => b.skip === undefined);
  it.each(runnable.map((b) => [`${b.file}:${b.line}`, b] as const))(
    "%s",
    (_where, b) => {
      const { work, etc } = scratch(`${b.file.replace(/\W/g, "_")}-${b.line}`);
      const script = b.text.replaceAll("/etc/scimbridge/", `${etc}/`);
      const r = spawnSync("bash", ["-euo", "pipefail", "-c", script], {
        cwd: work,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, SCIMBRIDGE_CONFIG: "" },
        encoding: "utf8",
        timeout: 120_000,
      });
      expect(r.status, `${b.file}:${b.line}\n${script}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
    },
    150_000,
  );
});
