import { mkdir, readdir, realpath, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * The package an app outside this repository installs (`bun run client:pack`): ESM for browsers,
 * React Native and Bun/Node (Bun.build), declarations from TypeScript's own emit, and `AppRouter`
 * as `api/app-router.d.ts` spells it out, so no declaration names a server type. The router is
 * expanded here, not by a .d.ts bundler: those copy declarations, and the router's declaration
 * carries the server's context (database, logger, partners) with it.
 */

const HERE = import.meta.dir;
const WORK = join(HERE, ".build");
/** The committed router types of this client version; a test compares a fresh one with it. */
export const REPORT_FILE = join(HERE, "api", "app-router.d.ts");
/** Each client version: the resident api version it speaks, and the hash of its router types. */
export const VERSIONS_FILE = join(HERE, "api", "versions.json");
export const DIST = join(HERE, "dist");

const REPORT_HEADER = `// The api's router as @propgate/client describes it: generated from @propgate/api by
// \`bun run --cwd packages/client api-report\`; do not edit. A change here is a change of the
// client's types: bump the version in package.json and add its CHANGELOG entry first.
`;

/** The packages whose runtime the published JS and declarations leave to the app. */
const PEERS = ["@trpc/client", "@trpc/server"] as const;
const DEPENDENCIES = ["eventsource"] as const;

interface Manifest {
  name: string;
  version: string;
  description: string;
  dependencies: Record<string, string>;
}

async function manifest(): Promise<Manifest> {
  return (await Bun.file(join(HERE, "package.json")).json()) as Manifest;
}

/** Runs the repository's TypeScript (tsgo) on a config; its errors stop the build. */
async function tsc(config: string): Promise<void> {
  const child = Bun.spawn([process.execPath, "x", "tsc", "-p", config], {
    cwd: HERE,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`tsc -p ${config} failed:\n${out}${err}`);
}

/** Emits the declarations of `files` (relative to this package) under `.build/<name>`. */
async function emitDeclarations(name: string, files: string[]): Promise<string> {
  const dir = join(WORK, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const config = join(dir, "tsconfig.json");
  await Bun.write(
    config,
    JSON.stringify({
      extends: "../../../../tsconfig.json",
      compilerOptions: {
        noEmit: false,
        declaration: true,
        emitDeclarationOnly: true,
        rootDir: "../..",
        outDir: "./out",
      },
      include: files.map((file) => `../../${file}`),
    }),
  );
  await tsc(config);
  return join(dir, "out");
}

/** Where the vocabulary probe is written; it resolves `@propgate/*` as `@propgate/api` does. */
const PROBE = join(WORK, "probe");

/**
 * Links the workspace packages `@propgate/api` depends on into the probe's node_modules: the
 * types the router names resolve there as packages, not as files of this package.
 */
async function linkApiPackages(): Promise<void> {
  const from = join(
    dirname(Bun.resolveSync("@propgate/api/package.json", HERE)),
    "node_modules",
    "@propgate",
  );
  const to = join(PROBE, "node_modules", "@propgate");
  await rm(PROBE, { recursive: true, force: true });
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from))
    await symlink(await realpath(join(from, name)), join(to, name));
}

const SERVER_TYPE = /import\("(@propgate\/[^"]+)"\)\.(\w+)/g;

/** `export declare const <name>: <type>;` statements of an emitted file, by name. */
function declaredConsts(text: string): Map<string, string> {
  const consts = new Map<string, string>();
  const parts = text.split(/^export declare const (\w+): /m);
  for (let i = 1; i < parts.length; i += 2) {
    const body = (parts[i + 1] ?? "").split(/^export /m)[0] ?? "";
    consts.set(parts[i] ?? "", body.trimEnd().replace(/;$/, ""));
  }
  return consts;
}

/**
 * `AppRouter` spelled out: TypeScript prints `router-view.ts`'s `appRouter`, and each vocabulary
 * type it still names (`Purpose`, from `@propgate/domain`) is printed the same way and put in.
 */
export async function routerDeclaration(): Promise<string> {
  const out = await emitDeclarations("router", ["router-view.ts"]);
  await linkApiPackages();
  let router = declaredConsts(await Bun.file(join(out, "router-view.d.ts")).text()).get(
    "appRouter",
  );
  if (!router) throw new Error("router-view.ts declared no appRouter");
  for (let round = 0; round < 5 && router.includes('import("@propgate/'); round++) {
    const named = [...new Set([...router.matchAll(SERVER_TYPE)].map((match) => match[0]))];
    await Bun.write(
      join(PROBE, "vocabulary.ts"),
      `import { spelledOut } from "../../router-view.ts";\n${named
        .map((type, i) => `export const v${i} = spelledOut<${type}>();`)
        .join("\n")}\n`,
    );
    const spelled = declaredConsts(
      await Bun.file(
        join(
          await emitDeclarations("vocabulary", [".build/probe/vocabulary.ts"]),
          ".build/probe/vocabulary.d.ts",
        ),
      ).text(),
    );
    named.forEach((type, i) => {
      const text = spelled.get(`v${i}`);
      if (!text) throw new Error(`could not spell out ${type}`);
      // Whole names only: `Partner` is not the start of `PartnerEventType`.
      const escaped = type.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      router = router?.replace(new RegExp(`${escaped}(?![\\w$])`, "g"), () => `(${text})`);
    });
  }
  if (router.includes('import("@propgate/'))
    throw new Error("the router types still name a server type");
  const trpc = [...new Set(router.match(/\bTRPC[A-Za-z]+(?=<)/g) ?? [])].sort();
  return format(`${REPORT_HEADER}import type { ${trpc.join(", ")} } from "@trpc/server";

export type AppRouter = ${router};
`);
}

/** Biome's formatting of a declaration file, as the repository formats its code. */
async function format(text: string): Promise<string> {
  const child = Bun.spawn(
    [process.execPath, "x", "biome", "format", "--stdin-file-path=app-router.d.ts"],
    { cwd: HERE, stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`biome format failed:\n${err}`);
  return out;
}

/** sha256 of the router types, as `versions.json` records them. */
export function reportHash(text: string): string {
  return `sha256-${new Bun.CryptoHasher("sha256").update(text).digest("hex")}`;
}

export type Versions = Record<string, { api: string; router: string }>;

/**
 * Writes `api/app-router.d.ts` and this version's line of `versions.json`; refuses to change the
 * types an existing version described.
 */
async function writeReport(apiVersion: string): Promise<void> {
  const text = await routerDeclaration();
  const { version } = await manifest();
  const versions = (await Bun.file(VERSIONS_FILE).json()) as Versions;
  const known = versions[version];
  if (known && known.router !== reportHash(text))
    throw new Error(
      `@propgate/client ${version} already describes other router types: bump the version in ` +
        "packages/client/package.json and add its CHANGELOG entry, then run this again",
    );
  versions[version] = { api: apiVersion, router: reportHash(text) };
  await Bun.write(REPORT_FILE, text);
  await Bun.write(VERSIONS_FILE, `${JSON.stringify(versions, null, 2)}\n`);
  console.log(`wrote ${REPORT_FILE} for @propgate/client ${version} (api ${apiVersion})`);
}

/** The published manifest: the version of this package, peers at the ranges the repo uses. */
function publishedManifest(source: Manifest) {
  const pick = (names: readonly string[]) =>
    Object.fromEntries(
      names.map((name) => {
        const range = source.dependencies[name];
        if (!range) throw new Error(`packages/client/package.json has no ${name}`);
        return [name, range];
      }),
    );
  return {
    name: source.name,
    version: source.version,
    description: source.description,
    license: "UNLICENSED",
    type: "module",
    sideEffects: false,
    exports: { ".": { types: "./index.d.ts", import: "./index.js" } },
    types: "./index.d.ts",
    files: ["*.js", "*.d.ts", "README.md", "CHANGELOG.md"],
    peerDependencies: pick(PEERS),
    dependencies: pick(DEPENDENCIES),
    publishConfig: { access: "restricted" },
  };
}

/**
 * Builds the package into `dist/package` and packs it: `dist/propgate-client-<version>.tgz`.
 * Refuses when the router changed and `api/app-router.d.ts` does not say so yet.
 */
export async function packClient(): Promise<{ tarball: string; bytes: number }> {
  const fresh = await routerDeclaration();
  if (fresh !== (await Bun.file(REPORT_FILE).text()))
    throw new Error(
      "the api's router changed: run `bun run --cwd packages/client api-report` (after bumping " +
        "the version and adding its CHANGELOG entry)",
    );
  const source = await manifest();
  const staged = join(DIST, "package");
  await rm(DIST, { recursive: true, force: true });
  await mkdir(staged, { recursive: true });

  const js = await Bun.build({
    entrypoints: [join(HERE, "src", "index.ts")],
    outdir: staged,
    naming: "index.js",
    target: "browser",
    format: "esm",
    external: [...PEERS, ...DEPENDENCIES],
  });
  if (!js.success) throw new Error(`bundling failed: ${js.logs.join("\n")}`);

  const types = join(await emitDeclarations("types", ["src/index.ts"]), "src");
  for (const file of await readdir(types)) {
    const text =
      file === "app-router.d.ts"
        ? fresh
        : (await Bun.file(join(types, file)).text()).replace(/(from "\.\/[\w-]+)\.ts"/g, '$1.js"');
    await Bun.write(join(staged, file), text);
  }
  await Bun.write(
    join(staged, "package.json"),
    `${JSON.stringify(publishedManifest(source), null, 2)}\n`,
  );
  for (const doc of ["README.md", "CHANGELOG.md"])
    await Bun.write(join(staged, doc), Bun.file(join(HERE, doc)));

  const pack = Bun.spawn([process.execPath, "pm", "pack", "--quiet", "--destination", DIST], {
    cwd: staged,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(pack.stdout).text(),
    new Response(pack.stderr).text(),
    pack.exited,
  ]);
  if (code !== 0) throw new Error(`bun pm pack failed:\n${out}${err}`);
  const tarball = join(DIST, `propgate-client-${source.version}.tgz`);
  return { tarball, bytes: Bun.file(tarball).size };
}

if (import.meta.main) {
  const command = process.argv[2];
  if (command === "api-report") {
    const { residentApiDocument } = await import("@propgate/api");
    await writeReport(residentApiDocument().info.version);
  } else if (command === "pack") {
    const { tarball, bytes } = await packClient();
    console.log(`${tarball} (${(bytes / 1024).toFixed(1)} KiB)`);
  } else {
    console.error("usage: bun build.ts api-report | pack");
    process.exit(2);
  }
}
