import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The layout rules of docs/architecture.md, read from the workspaces themselves. */
const ROOT = join(import.meta.dir, "../../..");
const APPS = readdirSync(join(ROOT, "apps"));

function manifest(app: string): { name: string; deps: string[] } {
  const json = JSON.parse(readFileSync(join(ROOT, "apps", app, "package.json"), "utf8")) as {
    name: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  return {
    name: json.name,
    deps: [...Object.keys(json.dependencies ?? {}), ...Object.keys(json.devDependencies ?? {})],
  };
}

describe("layout", () => {
  const appNames = new Set(APPS.map((app) => manifest(app).name));

  test("the production api depends on the server package only: no simulator, no other app", () => {
    expect(manifest("api").deps).toEqual(["@propgate/server"]);
  });

  test("no app depends on another app, except apps/dev, which composes the whole stack", () => {
    for (const app of APPS.filter((name) => name !== "dev")) {
      const onApps = manifest(app).deps.filter((dep) => appNames.has(dep));
      expect({ app, onApps }).toEqual({ app, onApps: [] });
    }
  });

  test("the admin app takes the router type from @propgate/api, a package", () => {
    // The page's one tRPC client lives in api.ts.
    const client = readFileSync(join(ROOT, "apps/admin/src/page/api.ts"), "utf8");
    expect(client).toContain('import type { AppRouter } from "@propgate/api";');
    expect(appNames.has("@propgate/api")).toBe(false);
  });
});
