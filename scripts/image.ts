/**
 * `bun run image`: builds the one OCI image of infra/image/ from this checkout with podman —
 * the programs compiled into one binary, on a root filesystem staged from this host's Debian
 * files (nothing pulled from an image registry) — tags it, and prints its size and its files.
 *
 *   bun run image [--reuse] [--no-latest]
 *
 * Tags: propgate:<commit> (plus -<tree> when the work tree differs from the commit) and, unless
 * --no-latest, propgate:latest. --reuse keeps an image already built from the same tree.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundleAdminPage } from "@propgate/admin";

const ROOT = resolve(import.meta.dir, "..");
const IMAGE_DIR = join(ROOT, "infra/image");
const BINARY = "usr/local/bin/propgate";
/** The label that names the work tree an image was built from (a git tree id). */
const TREE_LABEL = "dev.propgate.source-tree";
/**
 * Host files the image holds besides the binary and its libraries, each from a Debian package.
 * No tzdata: Bun takes time zones from its own ICU data, never /usr/share/zoneinfo.
 */
const HOST_FILES = [
  // ca-certificates: the system CA bundle, which Bun reads with NODE_USE_SYSTEM_CA=1
  "/etc/ssl/certs/ca-certificates.crt",
  // wireguard-tools: the health probe's VPN collector runs `wg show <iface> dump`
  "/usr/bin/wg",
];
/** The licences of what is copied from Debian, kept where Debian ships them. */
const COPYRIGHTS = ["libc6", "ca-certificates", "wireguard-tools"];

interface Source {
  /** The commit checked out, or "unknown" outside a git checkout. */
  revision: string;
  /** The git tree id of the work tree as it is (untracked files too, ignored ones not). */
  tree: string | null;
  version: string;
}

interface ImageFile {
  path: string;
  mode: string;
  owner: string;
  size: number;
}

interface Built {
  image: string;
  tags: string[];
  reused: boolean;
  size: number;
  source: Source;
  files: ImageFile[];
}

/** Runs a command in the repository to its end; throws with its error output when it fails. */
function run(argv: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync(argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (result.exitCode !== 0)
    throw new Error(
      `${argv.join(" ")} exited with ${result.exitCode}: ${result.stderr.toString().trim()}`,
    );
  return result.stdout.toString();
}

/** The commit and the work tree's git tree id (a copy of the index, so the real one is untouched). */
function sourceOf(): Source {
  try {
    const revision = run(["git", "rev-parse", "HEAD"]).trim();
    const scratch = mkdtempSync(join(tmpdir(), "propgate-image-index-"));
    try {
      const index = join(scratch, "index");
      cpSync(resolve(ROOT, run(["git", "rev-parse", "--git-path", "index"]).trim()), index);
      const env = { GIT_INDEX_FILE: index };
      run(["git", "add", "--all", "--", "."], env);
      const tree = run(["git", "write-tree"], env).trim();
      const clean = tree === run(["git", "rev-parse", "HEAD^{tree}"]).trim();
      const short = revision.slice(0, 12);
      return { revision, tree, version: clean ? short : `${short}-${tree.slice(0, 12)}` };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  } catch {
    return { revision: "unknown", tree: null, version: "dev" };
  }
}

/** The shared libraries `ldd` names for an executable (the loader included). */
function sharedLibraries(executable: string): string[] {
  return run(["ldd", executable])
    .split("\n")
    .flatMap((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1] ?? []);
}

/** Copies a host file to the same path under `rootfs`, following links. */
function copyHostFile(rootfs: string, path: string) {
  const target = join(rootfs, path);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(path, target, { dereference: true });
}

/**
 * The files the binary reads at run time, embedded in it as assets. A directory asset lands at
 * `<its name>/` beside every module of the bundle (the modules' `import.meta.dir`), where
 * `migrations.ts` and the admin app's `PAGE_DIR` look for them in a compiled binary.
 */
async function stageAssets(dir: string): Promise<string[]> {
  const drizzle = join(dir, "drizzle");
  const committed = join(ROOT, "packages/consent-audit/drizzle");
  mkdirSync(join(drizzle, "meta"), { recursive: true });
  cpSync(join(committed, "meta/_journal.json"), join(drizzle, "meta/_journal.json"));
  for (const file of new Bun.Glob("*.sql").scanSync(committed))
    cpSync(join(committed, file), join(drizzle, file));
  const page = join(dir, "page");
  const pageSources = join(ROOT, "apps/admin/src/page");
  mkdirSync(page);
  for (const file of ["index.html", "admin.css"]) cpSync(join(pageSources, file), join(page, file));
  await Bun.write(join(page, "admin.js"), await bundleAdminPage());
  return [drizzle, page];
}

/** Compiles infra/image/entry.ts (every program) into `outfile`. */
async function compile(outfile: string, assets: string[]) {
  // The bundle names each module by its path from the working directory: the same binary
  // wherever this runs, and paths a reader of the binary recognises (`// apps/api/src/main.ts`).
  process.chdir(ROOT);
  const result = await Bun.build({
    entrypoints: [join(IMAGE_DIR, "entry.ts")],
    // The environment is the only configuration: no .env or bunfig.toml from the working dir.
    compile: { outfile, assets, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!result.success)
    throw new Error(`compiling failed:\n${result.logs.map((log) => String(log)).join("\n")}`);
}

/** The root filesystem: the binary, the libraries it and `wg` load, the host files, the user. */
async function stageRootfs(context: string): Promise<void> {
  const rootfs = join(context, "rootfs");
  cpSync(join(IMAGE_DIR, "rootfs"), rootfs, { recursive: true });
  const binary = join(rootfs, BINARY);
  mkdirSync(dirname(binary), { recursive: true });
  await compile(binary, await stageAssets(join(context, "assets")));
  for (const file of HOST_FILES) {
    if (!existsSync(file))
      throw new Error(`${file} is missing: run scripts/install-system-tools.sh as root`);
    copyHostFile(rootfs, file);
  }
  for (const library of new Set([binary, "/usr/bin/wg"].flatMap(sharedLibraries)))
    copyHostFile(rootfs, library);
  for (const pkg of COPYRIGHTS) copyHostFile(rootfs, `/usr/share/doc/${pkg}/copyright`);
  mkdirSync(join(rootfs, "tmp"));
  chmodSync(join(rootfs, "tmp"), 0o1777);
}

/** podman as configured on this host: building and exporting start no container. */
function podman(args: string[]): string {
  return run(["podman", ...args]);
}

/** Every file of an image, from a container made of it and exported (never started). */
function imageFiles(image: string): ImageFile[] {
  const container = podman(["create", image]).trim();
  try {
    const scratch = mkdtempSync(join(tmpdir(), "propgate-image-export-"));
    try {
      const tar = join(scratch, "rootfs.tar");
      podman(["export", "--output", tar, container]);
      return run(["tar", "--list", "--verbose", "--numeric-owner", "--file", tar])
        .trim()
        .split("\n")
        .map((line) => {
          const [mode = "", owner = "", size = "0", , , ...name] = line.split(/\s+/);
          return { path: `/${name.join(" ").replace(/^\.?\//, "")}`, mode, owner, size: +size };
        });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  } finally {
    podman(["rm", container]);
  }
}

function labelOf(image: string, label: string): string | null {
  try {
    const value = podman(["image", "inspect", "--format", `{{index .Labels "${label}"}}`, image]);
    return value.trim() || null;
  } catch {
    return null;
  }
}

async function buildImage(options: { reuse: boolean; latest: boolean }): Promise<Built> {
  const source = sourceOf();
  const image = `propgate:${source.version}`;
  const tags = options.latest ? [image, "propgate:latest"] : [image];
  const reused =
    options.reuse && source.tree !== null && labelOf(image, TREE_LABEL) === source.tree;
  if (reused) {
    for (const tag of tags.slice(1)) podman(["tag", image, tag]);
  } else {
    const context = mkdtempSync(join(tmpdir(), "propgate-image-"));
    try {
      await stageRootfs(context);
      const labels = {
        "org.opencontainers.image.version": source.version,
        "org.opencontainers.image.revision": source.revision,
        "org.opencontainers.image.created": new Date().toISOString(),
        [TREE_LABEL]: source.tree ?? "",
      };
      podman([
        "build",
        "--pull=never",
        "--file",
        join(IMAGE_DIR, "Containerfile"),
        ...Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]),
        ...tags.flatMap((tag) => ["--tag", tag]),
        context,
      ]);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  }
  const size = Number(podman(["image", "inspect", "--format", "{{.Size}}", image]).trim());
  return { image, tags, reused, size, source, files: imageFiles(image) };
}

function report(built: Built) {
  const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
  console.log(`${built.reused ? "reused" : "built"} ${built.tags.join(", ")}`);
  console.log(`  commit ${built.source.revision}, tree ${built.source.tree ?? "unknown"}`);
  console.log(`  size ${megabytes(built.size)}; its files:`);
  for (const file of built.files)
    console.log(
      `  ${file.mode} ${file.owner.padEnd(5)} ${String(file.size).padStart(10)} ${file.path}`,
    );
}

const USAGE = "usage: bun run image [--reuse] [--no-latest]";
let options: { reuse: boolean; latest: boolean };
try {
  const { values } = parseArgs({
    options: {
      reuse: { type: "boolean", default: false },
      "no-latest": { type: "boolean", default: false },
    },
  });
  options = { reuse: values.reuse, latest: !values["no-latest"] };
} catch (error) {
  console.error(`image: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(2);
}
if (!Bun.which("podman")) {
  console.error("image: podman is missing (scripts/install-system-tools.sh installs it)");
  process.exit(1);
}
try {
  report(await buildImage(options));
} catch (error) {
  console.error(`image: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
