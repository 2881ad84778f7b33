import { defineConfig } from "vitest/config";

/**
 * The SCIM service and delivery suites whose behaviour does not depend on the storage engine, run
 * a second time on PostgreSQL (test/helpers/test-store.ts). Left out: suites about SQLite itself
 * (the file, its lock, a full disk under it) and suites that read the SQLite file directly.
 */
const onBothEngines = [
  ...["users", "groups", "lists", "bulk", "concurrency", "cursor-paging", "errors", "group-patch-response", "scopes", "limits", "json-body", "discovery", "admin-status", "admin-group-status"].map((f) => `test/server/${f}.test.ts`),
  ...["provisioning", "group-provisioning", "provisioning-lifecycle", "deprovisioning", "identity-continuity", "case-rename", "reconcile", "reconcile-groups", "wake-after-commit", "durability", "ldap-failure-text", "pingdirectory-profile"].map((f) => `test/hooks/${f}.test.ts`),
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    // Named, so a failure says which engine it came from.
    projects: [
      { extends: true, test: { name: "sqlite", include: ["test/**/*.test.ts"], env: { SCIMBRIDGE_TEST_STORE: "sqlite" } } },
      { extends: true, test: { name: "postgres", include: onBothEngines, env: { SCIMBRIDGE_TEST_STORE: "postgres" }, globalSetup: ["test/harness/postgres-project.ts"] } },
    ],
  },
});
