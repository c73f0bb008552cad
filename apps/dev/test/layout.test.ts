import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

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

/** Every workspace's files, without what installs and runs leave behind. */
/** Files under `dir`, without what is installed or built (ignored by git: a parallel build writes there). */
function filesUnder(dir: string): string[] {
  return (readdirSync(join(ROOT, dir), { recursive: true }) as string[])
    .map((file) => join(dir, file))
    .filter((file) => !/(^|\/)(node_modules|\.data|\.turbo|\.build|dist)(\/|$)/.test(file));
}

const WORKSPACES = ["apps", "packages"].flatMap((dir) =>
  readdirSync(join(ROOT, dir)).map((name) => join(dir, name)),
);
const SOURCES = [...WORKSPACES, "scripts", "infra"]
  .flatMap(filesUnder)
  .filter((file) => file.endsWith(".ts"));

/** The specifiers a source names in `from "…"`, `import "…"` and `import("…")`. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(ROOT, file), "utf8");
  return [...source.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["']([^"'\n]+)["']/g)].flatMap(
    ([, specifier]) => (specifier ? [specifier] : []),
  );
}

/** The `test/` folder a repository path lies in, e.g. `apps/dev/test`, or null. */
function testFolderOf(file: string): string | null {
  const parts = file.split("/");
  const at = parts.indexOf("test");
  return at < 0 ? null : parts.slice(0, at + 1).join("/");
}

/**
 * The heavy lanes, by file name; every other test file is the fast lane (in-process, seconds).
 * Each workspace's `test` script runs the fast lane, `test:e2e` the heavy ones.
 */
const LANES = ["browser", "container", "e2e", "load"] as const;
const laneOf = (file: string) =>
  LANES.find((lane) => file.endsWith(`.${lane}.test.ts`)) ?? ("fast" as const);
// Files in parallel (one worker per core); the timeout only catches a hang, as on two shared
// cores a fast test may well take seconds.
const FAST_SCRIPT = `bun test --parallel --timeout 60000 --path-ignore-patterns='**/*.{${LANES.join(",")}}.test.ts'`;
const HEAVY_SCRIPT = `bun test --timeout 60000 ${LANES.map((lane) => `.${lane}.test.`).join(" ")}`;

/** What only a heavy test starts: the whole stack, child processes, a browser, the drills. */
const HEAVY_IMPORTS = [
  /\/src\/testing\/harness\.ts$/,
  /\/src\/testing\/processes\.ts$/,
  /^playwright-core$/,
  /\/drill\//,
];

describe("tests and their lanes", () => {
  // What bun test would run: a name with .test, _test_, .spec or _spec_.
  const TESTS = WORKSPACES.flatMap(filesUnder).filter((file) =>
    /(\.test|_test_|\.spec|_spec_)[^/]*\.[cm]?[jt]sx?$/.test(file),
  );

  test("a test/ folder is imported only from inside it: the bench and drills share src/testing", () => {
    const crossings = SOURCES.flatMap((file) =>
      importsOf(file)
        .filter((specifier) => specifier.startsWith("."))
        .map((specifier) => relative(ROOT, resolve(ROOT, dirname(file), specifier)))
        .filter((target) => {
          const folder = testFolderOf(target);
          return folder !== null && !file.startsWith(`${folder}/`);
        })
        .map((target) => `${file} imports ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  test("every test file is a workspace's test/**/*.test.ts, fast or of a known lane", () => {
    expect(TESTS.length).toBeGreaterThan(100);
    const misplaced = TESTS.filter(
      (file) =>
        !file.endsWith(".test.ts") ||
        !WORKSPACES.includes(testFolderOf(file)?.replace(/\/test$/, "") ?? ""),
    );
    expect(misplaced).toEqual([]);
  });

  test("each workspace's test script runs its fast lane, and test:e2e its heavy lanes", () => {
    for (const workspace of WORKSPACES) {
      const files = TESTS.filter((file) => file.startsWith(`${workspace}/`));
      if (files.length === 0) continue;
      const { scripts = {} } = JSON.parse(
        readFileSync(join(ROOT, workspace, "package.json"), "utf8"),
      ) as { scripts?: Record<string, string> };
      const heavy = files.some((file) => laneOf(file) !== "fast");
      expect({ workspace, fast: scripts.test, heavy: scripts["test:e2e"] }).toEqual({
        workspace,
        fast: FAST_SCRIPT,
        heavy: heavy ? HEAVY_SCRIPT : undefined,
      });
    }
  });

  test("a fast-lane test starts no stack, child process, browser or drill (name it for its lane)", () => {
    const heavyInFast = TESTS.filter((file) => laneOf(file) === "fast").flatMap((file) =>
      importsOf(file)
        .filter((specifier) => HEAVY_IMPORTS.some((pattern) => pattern.test(specifier)))
        .map((specifier) => `${file} imports ${specifier}`),
    );
    expect(heavyInFast).toEqual([]);
  });
});
