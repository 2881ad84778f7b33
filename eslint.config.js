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
