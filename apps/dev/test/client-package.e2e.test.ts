import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { startTestStack, type TestStack } from "../src/testing/harness.ts";

/**
 * `@propgate/client` as an app outside this repository gets it: `bun run client:pack`, then a
 * fresh npm app in a temporary folder installs the tarball with TypeScript and esbuild from the
 * registry. Its script type-checks (and a wrong procedure or input does not), runs under Bun and,
 * bundled by esbuild, in Chromium, against the embedded stack.
 */
const ROOT = join(import.meta.dir, "..", "..", "..");
const CHROMIUM = "/usr/bin/chromium";
const npm = Bun.which("npm");
const missing = [npm ? null : "npm", existsSync(CHROMIUM) ? null : CHROMIUM].filter(Boolean);
if (missing.length > 0) {
  if (process.env.CI)
    throw new Error(`${missing.join(", ")} missing in CI: run scripts/install-system-tools.sh`);
  console.warn(`[skip] client package test: ${missing.join(", ")} not installed`);
}
const available = missing.length === 0;

/** The app's own code: what a developer of tenant-core-app writes against the package. */
const DOOR = `import { createPropgateClient, PropgateError, type PropgateErrorCode } from "@propgate/client";

export async function openDoor(url: string, token: string, deviceId: string) {
  const api = createPropgateClient({ url, getToken: () => token });
  const refused = await api.intercom.openDoor.mutate({ deviceId }).then(
    () => null,
    (error: unknown) => {
      if (!(error instanceof PropgateError)) throw error;
      const code: PropgateErrorCode = error.code;
      return { code, consentRequired: error.code === "CONSENT_REQUIRED", httpStatus: error.httpStatus };
    },
  );
  const consents = await api.consent.list.query();
  const intercom = consents.find((consent) => consent.purpose === "intercom");
  await api.consent.grant.mutate({ purpose: "intercom", noticeVersion: intercom?.currentNoticeVersion ?? 0 });
  const opened = await api.intercom.openDoor.mutate({ deviceId });
  return { refused, opened: { status: opened.status, eventId: opened.eventId } };
}
`;
const BROWSER = `import { openDoor } from "./door.ts";\nObject.assign(globalThis, { propgateApp: { openDoor } });\n`;
const NO_SUCH_PROCEDURE = `import { createPropgateClient } from "@propgate/client";
const api = createPropgateClient({ url: "http://127.0.0.1", getToken: () => "t" });
await api.intercom.openGate.mutate({ deviceId: "door-a1" });
`;
const WRONG_INPUT = `import { createPropgateClient } from "@propgate/client";
const api = createPropgateClient({ url: "http://127.0.0.1", getToken: () => "t" });
await api.intercom.openDoor.mutate({ deviceId: 42 });
`;

let app = "";
let tarball = "";
let stack: TestStack;
let browser: Browser;

async function run(command: string[], cwd: string, env: Record<string, string> = {}) {
  const child = Bun.spawn(command, {
    cwd,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code, output: `${stdout}${stderr}` };
}

/** tsc of the app (TypeScript from the registry) on one of its files, strict, libraries checked. */
function typecheck(file: string) {
  return run(
    [
      "npx",
      "tsc",
      "--noEmit",
      "--strict",
      "--target",
      "es2022",
      "--module",
      "esnext",
      "--moduleResolution",
      "bundler",
      "--allowImportingTsExtensions",
      "--lib",
      "esnext,dom",
      "--types",
      "",
      "--skipLibCheck",
      "false",
      file,
    ],
    app,
  );
}

beforeAll(async () => {
  if (!available) return;
  const packed = await run([process.execPath, "run", "client:pack"], ROOT);
  if (packed.code !== 0) throw new Error(`client:pack failed:\n${packed.output}`);
  const dist = join(ROOT, "packages", "client", "dist");
  const name = (await readdir(dist)).find((file) => file.endsWith(".tgz"));
  if (!name) throw new Error("client:pack wrote no tarball");
  tarball = join(dist, name);

  app = await mkdtemp(join(tmpdir(), "tenant-core-app-"));
  const steps = [
    ["npm", "init", "-y"],
    // The registry's packages, from npm's own cache when it has them.
    [
      "npm",
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      tarball,
      "typescript",
      "esbuild",
    ],
  ];
  for (const step of steps) {
    const result = await run(step, app);
    if (result.code !== 0) throw new Error(`${step.join(" ")} failed:\n${result.output}`);
  }
  await Bun.write(join(app, "door.ts"), DOOR);
  await Bun.write(join(app, "browser.ts"), BROWSER);
  await Bun.write(join(app, "no-such-procedure.ts"), NO_SUCH_PROCEDURE);
  await Bun.write(join(app, "wrong-input.ts"), WRONG_INPUT);
  stack = await startTestStack();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (app) await rm(app, { recursive: true, force: true });
});

describe.skipIf(!available)("@propgate/client installed from its tarball", () => {
  test("the tarball holds the built client only, and npm publish --dry-run passes", async () => {
    const listing = await run(["tar", "tzf", tarball], ROOT);
    const files = listing.stdout.trim().split("\n").sort();
    // The package's own docs (its README and CHANGELOG), the manifest, the JS and declarations.
    const docs = (await readdir(join(ROOT, "packages", "client"))).filter((file) =>
      /^[A-Z]+\.md$/.test(file),
    );
    expect(docs).toHaveLength(2);
    expect(files).toEqual(
      [
        ...docs.map((file) => `package/${file}`),
        "package/app-router.d.ts",
        "package/client.d.ts",
        "package/errors.d.ts",
        "package/headers.d.ts",
        "package/index.d.ts",
        "package/index.js",
        "package/link.d.ts",
        "package/package.json",
        "package/privacy-report.d.ts",
        "package/subscription-link.d.ts",
      ].sort(),
    );
    const bytes = Bun.file(tarball).size;
    console.log(`@propgate/client tarball: ${tarball} ${bytes} bytes`);
    expect(bytes).toBeLessThan(64 * 1024);

    const installed = join(app, "node_modules", "@propgate", "client");
    const manifest = await Bun.file(join(installed, "package.json")).json();
    expect(manifest).toMatchObject({
      name: "@propgate/client",
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      type: "module",
      sideEffects: false,
      exports: { ".": { types: "./index.d.ts", import: "./index.js" } },
      peerDependencies: { "@trpc/client": expect.stringMatching(/^\^11\./) },
    });
    expect(manifest.private).toBeUndefined();
    const dependencies = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
    expect(dependencies.filter((name) => name.startsWith("@propgate/"))).toEqual([]);

    // No server code, no workspace import, no Node built-in (browsers and Hermes load this).
    for (const file of await readdir(installed)) {
      if (!/\.(js|d\.ts)$/.test(file)) continue;
      const text = await Bun.file(join(installed, file)).text();
      expect({ file, workspace: text.match(/["']@propgate\/[\w/-]+["']/g) }).toEqual({
        file,
        workspace: null,
      });
      expect({
        file,
        node: text.match(/\brequire\(|["']node:|from ["'](fs|path|os|crypto)["']/g),
      }).toEqual({ file, node: null });
    }
    const code = await Bun.file(join(installed, "index.js")).text();
    const serverOnly = ["initTRPC", "fetchRequestHandler", "drizzle", "postgres", "pino", "hono"];
    expect(serverOnly.filter((name) => code.includes(name))).toEqual([]);

    const dryRun = await run(
      ["npm", "publish", "--dry-run"],
      join(ROOT, "packages/client/dist/package"),
    );
    expect(dryRun.output).toContain("@propgate/client@");
    expect(dryRun.code).toBe(0);
  });

  test("tsc passes on the app's script, and fails on a wrong procedure or input", async () => {
    const good = await typecheck("browser.ts");
    expect(good.output).toBe("");
    expect(good.code).toBe(0);

    const noSuch = await typecheck("no-such-procedure.ts");
    expect(noSuch.code).not.toBe(0);
    expect(noSuch.output).toContain("openGate");

    const wrongInput = await typecheck("wrong-input.ts");
    expect(wrongInput.code).not.toBe(0);
    expect(wrongInput.output).toMatch(/'number' is not assignable to type 'string'/);
  });

  test("under Bun, the script opens a door and decodes a typed CONSENT_REQUIRED", async () => {
    const resident = await stack.resident("user-package-bun");
    const opensBefore = stack.sims.intercom.recorder.opens().length;
    const result = await run(
      [
        process.execPath,
        "--eval",
        `import { openDoor } from "./door.ts";
console.log(JSON.stringify(await openDoor(process.env.API_URL, process.env.TOKEN, "door-a1")));`,
      ],
      app,
      { API_URL: stack.api.url, TOKEN: resident.token },
    );
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({
      refused: { code: "CONSENT_REQUIRED", consentRequired: true, httpStatus: 403 },
      opened: { status: "opened", eventId: expect.stringMatching(/^sim_evt_/) },
    });
    expect(stack.sims.intercom.recorder.opens().length - opensBefore).toBe(1);
  });

  test("bundled by esbuild, the script opens a door in Chromium", async () => {
    const bundled = await run(
      ["npx", "esbuild", "browser.ts", "--bundle", "--format=esm", "--outfile=out/app.js"],
      app,
    );
    expect(bundled.code).toBe(0);
    const script = await Bun.file(join(app, "out", "app.js")).text();
    const api = stack.api.url;
    // The app's own origin, which forwards /trpc to the api as a web app's server would.
    const page = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const url = new URL(request.url);
        if (url.pathname === "/")
          return new Response('<!doctype html><script type="module" src="/app.js"></script>', {
            headers: { "content-type": "text/html; charset=utf-8" },
          });
        if (url.pathname === "/app.js")
          return new Response(script, { headers: { "content-type": "text/javascript" } });
        if (!url.pathname.startsWith("/trpc/")) return new Response("not found", { status: 404 });
        const headers = new Headers();
        for (const name of ["authorization", "content-type"]) {
          const value = request.headers.get(name);
          if (value) headers.set(name, value);
        }
        return fetch(`${api}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          body: request.method === "GET" ? undefined : await request.text(),
        });
      },
    });
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
        ],
      });
      const resident = await stack.resident("user-package-browser");
      const opensBefore = stack.sims.intercom.recorder.opens().length;
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on("pageerror", (error) => errors.push(error.message));
      await tab.goto(page.url.href);
      await tab.waitForFunction(() => "propgateApp" in window);
      const result = await tab.evaluate(
        ([origin, token]) =>
          (
            window as unknown as {
              propgateApp: { openDoor(url: string, token: string, deviceId: string): unknown };
            }
          ).propgateApp.openDoor(origin, token, "door-a1"),
        [page.url.origin, resident.token] as const,
      );
      expect(errors).toEqual([]);
      expect(result).toEqual({
        refused: { code: "CONSENT_REQUIRED", consentRequired: true, httpStatus: 403 },
        opened: { status: "opened", eventId: expect.stringMatching(/^sim_evt_/) },
      });
      expect(stack.sims.intercom.recorder.opens().length - opensBefore).toBe(1);
    } finally {
      await page.stop(true);
    }
  });
});
