import { defineConfig } from "drizzle-kit";

// drizzle-kit loads its configuration from a default export; this is the one allowed exception.
// biome-ignore lint/style/noDefaultExport: drizzle-kit requires a default-exported config
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema/index.ts",
  out: "./drizzle",
  casing: "snake_case",
  strict: true,
  verbose: true,
});
