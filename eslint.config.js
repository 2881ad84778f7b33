// Flat config: typescript-eslint's recommended rules, plus a few that keep modules small and honest.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "data/", "db/migrations/", "db/migrations-pg/", "coverage/", "test-artifacts/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["error"] }],
      "max-lines": ["warn", { max: 400, skipBlankLines: true, skipComments: true }],
      eqeqeq: ["error", "smart"],
    },
  },
  {
    // Type-aware rules for the TypeScript sources and tests: the store is async (db/store.ts), and
    // a store call whose promise is dropped is a write that may never happen or a race with the
    // next one; the compiler alone does not see it.
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      // Express 5 and node:test-style callbacks take promise-returning functions where void is typed.
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/await-thenable": "error",
    },
  },
  {
    // The admin web page: plain ES modules run by the browser (no build step), so browser globals.
    files: ["server/admin/page/**/*.js"],
    languageOptions: {
      sourceType: "module",
      globals: Object.fromEntries(
        ["window", "document", "location", "sessionStorage", "fetch", "URL", "Node", "setTimeout", "clearTimeout"].map((g) => [g, "readonly"]),
      ),
    },
  },
  {
    files: ["server/cli*.ts", "server/cli/**/*.ts", "bench/**/*.ts", "test/**/*.ts", "db/check-migrations.ts"],
    rules: { "no-console": "off" },
  },
);
