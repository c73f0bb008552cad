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

  test("the admin page calls the api through @propgate/client, not a tRPC set-up of its own", () => {
    // The page's one client lives in api.ts; the router type comes with the client package.
    const client = readFileSync(join(ROOT, "apps/admin/src/page/api.ts"), "utf8");
    expect(client).toMatch(
      /import \{[^}]*\bcreatePropgateClient\b[^}]*\} from "@propgate\/client";/,
    );
    expect(client).toContain("createPropgateClient({");
    const page = readdirSync(join(ROOT, "apps/admin/src/page")).filter((f) => f.endsWith(".ts"));
    for (const file of page) {
      const source = readFileSync(join(ROOT, "apps/admin/src/page", file), "utf8");
      const direct = /from "@trpc\/|from "@propgate\/api"/.test(source);
      expect({ file, direct }).toEqual({ file, direct: false });
    }
    const { deps } = manifest("admin");
    expect(deps).toContain("@propgate/client");
    expect(deps.filter((dep) => dep.startsWith("@trpc/") || dep === "@propgate/api")).toEqual([]);
    expect(appNames.has("@propgate/client")).toBe(false);
  });
});
