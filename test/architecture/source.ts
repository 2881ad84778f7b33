/**
 * The project's TypeScript sources as the architecture tests read them: listed from the folders
 * asked for and parsed with the TypeScript compiler (so comments and string contents are told
 * apart from code, which a grep cannot do).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Repository-relative paths (with `/`) of the .ts files under `folders`, sorted. */
export function sourceFiles(folders: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules") walk(path);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
        out.push(relative(ROOT, path).split(sep).join("/"));
      }
    }
  };
  for (const f of folders) walk(join(ROOT, f));
  return out.sort();
}

export function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
}

/** Every node of a file, depth first. */
export function* nodesOf(source: ts.SourceFile): Generator<ts.Node> {
  const stack: ts.Node[] = [source];
  while (stack.length) {
    const node = stack.pop()!;
    yield node;
    const children: ts.Node[] = [];
    node.forEachChild((c) => void children.push(c));
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

/** `file:line` of a node, 1-based. */
export function where(source: ts.SourceFile, node: ts.Node): string {
  return `${source.fileName}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
}

export interface ImportRef {
  specifier: string;
  /** `import type …` or `export type … from`: erased at run time. */
  typeOnly: boolean;
  node: ts.Node;
}

/** Static imports, re-exports and dynamic import() calls of a file. */
export function importsOf(source: ts.SourceFile): ImportRef[] {
  const out: ImportRef[] = [];
  for (const node of nodesOf(source)) {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly, node });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, node });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      out.push({ specifier: node.arguments[0].text, typeOnly: false, node });
    }
  }
  return out;
}
