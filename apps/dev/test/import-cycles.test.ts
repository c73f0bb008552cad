import { expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * No import circle among our source files, type-only imports included: a circle makes a module
 * load half-initialised and leaves a reader no place to start. Workspace packages are followed
 * through their `exports` map, so a circle across packages is found too.
 */
const ROOT = join(import.meta.dir, "../../..");
const SOURCES = new Bun.Glob("{apps,packages}/*/{src,test,bench,drill}/**/*.{ts,tsx}");
const SCRIPTS = new Bun.Glob("{scripts,infra/image}/**/*.ts");
const transpilers = {
  ts: new Bun.Transpiler({ loader: "ts" }),
  tsx: new Bun.Transpiler({ loader: "tsx" }),
};
// Bun's scanner drops type-only imports; these declarations start a line in formatted code.
const STATIC_IMPORT = /^\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/gm;
const SIDE_EFFECT_IMPORT = /^\s*import\s*["']([^"']+)["']/gm;
const TYPE_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** `@propgate/<name>` and its subpaths → the file its `exports` map names. */
function workspaceExports(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const manifest of new Bun.Glob("{apps,packages}/*/package.json").scanSync(ROOT)) {
    const folder = join(ROOT, dirname(manifest));
    const json = JSON.parse(readFileSync(join(ROOT, manifest), "utf8")) as {
      name: string;
      exports?: Record<string, string> | string;
    };
    const exports = typeof json.exports === "string" ? { ".": json.exports } : json.exports;
    for (const [subpath, file] of Object.entries(exports ?? {})) {
      entries.set(join(json.name, subpath), resolve(folder, file));
    }
  }
  return entries;
}

function asFile(path: string): string | null {
  for (const candidate of [path, `${path}.ts`, `${path}.tsx`, join(path, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

function importsOf(file: string, packages: Map<string, string>): string[] {
  const source = readFileSync(file, "utf8");
  const specifiers = new Set(
    transpilers[file.endsWith(".tsx") ? "tsx" : "ts"]
      .scanImports(source)
      .map((entry) => entry.path),
  );
  for (const pattern of [STATIC_IMPORT, SIDE_EFFECT_IMPORT, TYPE_IMPORT]) {
    for (const match of source.matchAll(pattern)) if (match[1]) specifiers.add(match[1]);
  }
  const targets: string[] = [];
  for (const specifier of specifiers) {
    const target = specifier.startsWith(".")
      ? asFile(resolve(dirname(file), specifier))
      : (packages.get(specifier) ?? null);
    if (target) targets.push(target);
  }
  return targets;
}

/** Tarjan's strongly connected components with more than one file (or a file importing itself). */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  function visit(file: string) {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || graph.get(file)?.includes(file)) found.push(component);
  }
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

test("no source file imports itself through a circle of imports, type-only ones included", () => {
  const packages = workspaceExports();
  const files = [...SOURCES.scanSync(ROOT), ...SCRIPTS.scanSync(ROOT)]
    .filter((path) => !path.includes("node_modules/"))
    .map((path) => join(ROOT, path));
  const graph = new Map(files.map((file) => [file, importsOf(file, packages)]));
  // The scan must see the code: the api's entry reaches its routers.
  const apiIndex = join(ROOT, "packages/api/src/index.ts");
  expect(graph.get(apiIndex)).toContain(join(ROOT, "packages/api/src/root.ts"));
  const found = circles(graph).map((component) =>
    component.map((file) => relative(ROOT, file)).sort(),
  );
  expect(found).toEqual([]);
});
