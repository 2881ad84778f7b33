// The PostgreSQL engine's migrations (drizzle.config.ts is SQLite's): `npm run db:generate:pg`.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema-pg.ts",
  out: "./db/migrations-pg",
});
