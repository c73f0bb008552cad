import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminStylesheet, bundleAdminPage } from "@propgate/admin";
import { checkReadiness, listAuditEvents } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { type PartnerSim, startPartnerSim } from "@propgate/partner-sim";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";
import { HEAP_GROWTH_FACTOR } from "../src/runtime-settings.ts";
import { SEED_DEVICES, SIM_INTERCOMS } from "../src/seed.ts";
import { type Child, runToExit, spawnChild } from "../src/testing/processes.ts";
import { CookieJar, pickAccount } from "./admin-http.ts";
import { productionApiEnv } from "./database-login.ts";

/*
 * The one image (infra/image/README.md) as an operator gets it: built by `bun run image`, its
 * files listed from the image itself, its user checked, and every program started from it with
 * podman as root (the lane's measure: this machine and CI), on this host's network so it reaches
 * the test's PostgreSQL, partner simulator and dev issuer as it would reach the real ones.
 * About 45 s with an image built from the same tree (`--reuse`); building one adds 15 s or so.
 */
const ROOT = join(import.meta.dir, "../../..");
const missing =
  Bun.which("podman") === null
    ? "podman is not installed (scripts/install-system-tools.sh installs it)"
    : process.getuid?.() !== 0
      ? "the containers run with podman as root, as in CI (this user is not root)"
      : !process.env.DATABASE_URL
        ? "the containers need PostgreSQL (DATABASE_URL); they cannot open the test's PGlite"
        : null;
if (missing && process.env.CI) throw new Error(`the container lane must run in CI: ${missing}`);
if (missing) console.warn(`[skip] image: ${missing}`);

/** The uid and gid the image runs as (infra/image/rootfs/etc/passwd). */
const USER = 65532;
/** podman's settings for this machine: runc, no default ulimits. */
const PODMAN_ENV = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "/root",
  CONTAINERS_CONF: join(ROOT, "infra/image/containers.conf"),
};
const podman = (args: string[]) => runToExit(["podman", ...args], PODMAN_ENV);

interface ImageFile {
  path: string;
  mode: string;
  owner: string;
  size: number;
}

/** `tar --list --verbose` lines (as `bun run image` prints them too) as files. */
function parseListing(lines: string[]): ImageFile[] {
  return lines.flatMap((line) => {
    const match = /^\s*([-dlrwxsStT]{10})\s+(\d+\/\d+)\s+(\d+)\s+(?:\S+ \S+ )?(\/?\S+)/.exec(line);
    if (!match) return [];
    const [, mode = "", owner = "", size = "0", path = ""] = match;
    return [{ mode, owner, size: Number(size), path: `/${path.replace(/^\.?\//, "")}` }];
  });
}

describe.skipIf(missing !== null)("the image (infra/image)", () => {
  let dir = "";
  const names = new Set<string>();
  let image = "";
  let report = "";
  let files: ImageFile[] = [];
  let binary = "";
  let database: TestDatabase;

  /** Files the containers read: owned by the image's user, mounted at the same path. */
  function writeSecret(name: string, content: string): string {
    const file = join(dir, name);
    writeFileSync(file, content, { mode: 0o600 });
    chownSync(file, USER, USER);
    return file;
  }

  /**
   * `podman run <image> <program...>` with `env`, on the host's network, `dir` mounted, and
   * confined as the deployment recipes confine it: a read-only root without even a writable
   * /tmp, no capabilities, no privilege escalation.
   */
  function containerArgs(name: string, env: Record<string, string>, program: string[]) {
    names.add(name);
    const { PATH: _path, ...settings } = env;
    return [
      "run",
      "--rm",
      "--name",
      name,
      "--network",
      "host",
      "--read-only",
      "--read-only-tmpfs=false",
      "--cap-drop=all",
      "--security-opt=no-new-privileges",
      "--volume",
      `${dir}:${dir}:ro`,
      ...Object.entries(settings).flatMap(([key, value]) => ["--env", `${key}=${value}`]),
      image,
      ...program,
    ];
  }
  const start = (name: string, env: Record<string, string>, program: string[]): Child =>
    spawnChild(["podman", ...containerArgs(name, env, program)], PODMAN_ENV);
  const runOnce = (name: string, env: Record<string, string>, program: string[]) =>
    podman(containerArgs(name, env, program));

  /** The `url` of a program's JSON log line `message`. */
  async function loggedUrl(child: Child, message: string): Promise<string> {
    const [line] = await child.waitFor(new RegExp(`^\\{.*"msg":"${message}".*\\}$`), 30_000);
    return JSON.parse(line).url;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "propgate-image-"));
    chownSync(dir, USER, USER);
    const built = await runToExit(
      [process.execPath, join(ROOT, "scripts/image.ts"), "--reuse", "--no-latest"],
      PODMAN_ENV,
    );
    report = built.output;
    if (built.code !== 0) throw new Error(`bun run image failed:\n${report}`);
    image = /^(?:built|reused) (propgate:\S+)$/m.exec(report)?.[1] ?? "";
    console.log(report.split("\n").slice(0, 3).join("\n"));

    // The image's files, from a container made of it (never started) and exported.
    const created = await podman(["create", image]);
    expect(created.code).toBe(0);
    const tar = join(dir, "rootfs.tar");
    expect((await podman(["export", "--output", tar, created.output])).code).toBe(0);
    expect((await podman(["rm", created.output])).code).toBe(0);
    const listed = await runToExit(["tar", "-tvf", tar, "--numeric-owner"], PODMAN_ENV);
    files = parseListing(listed.output.split("\n"));
    expect(
      (await runToExit(["tar", "-xf", tar, "-C", dir, "usr/local/bin/propgate"], PODMAN_ENV)).code,
    ).toBe(0);
    binary = join(dir, "usr/local/bin/propgate");
    rmSync(tar);
    database = await createTestDatabase({ migrate: false });
  }, 600_000);

  afterAll(async () => {
    if (names.size > 0) await podman(["rm", "--force", "--ignore", ...names]);
    await database?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("`bun run image` prints the image's size and every file it holds", async () => {
    const inspected = await podman(["image", "inspect", "--format", "{{.Size}}", image]);
    const megabytes = (Number(inspected.output) / 1_000_000).toFixed(1);
    expect(report).toContain(`size ${megabytes} MB`);
    expect(parseListing(report.split("\n")).map((file) => file.path)).toEqual(
      files.map((file) => file.path),
    );
    // One runtime, not one per program.
    expect(Number(inspected.output)).toBeLessThan(150_000_000);
  });

  test("it holds the one binary, its libraries, wg, the CA bundle, the user and licences: no shell, nothing writable", () => {
    const allowed = [
      /^\/usr\/local\/bin\/propgate$/,
      /^\/usr\/bin\/wg$/,
      /^\/lib\/[a-z0-9_]+-linux-gnu\/lib(c|m|dl|pthread)\.so\.\d+$/,
      /^\/lib64\/ld-linux-[a-z0-9-]+\.so\.\d+$/,
      /^\/etc\/(passwd|group|nsswitch\.conf)$/,
      /^\/etc\/ssl\/certs\/ca-certificates\.crt$/,
      /^\/usr\/share\/doc\/(libc6|ca-certificates|wireguard-tools)\/copyright$/,
    ];
    const contents = files.filter((file) => !file.mode.startsWith("d"));
    const unexpected = contents.filter((file) => !allowed.some((rule) => rule.test(file.path)));
    expect(unexpected).toEqual([]);
    for (const rule of allowed)
      expect({ rule: String(rule), found: contents.some((file) => rule.test(file.path)) }).toEqual({
        rule: String(rule),
        found: true,
      });
    // Root's, and writable by root only; /tmp (sticky) is the one place others may write.
    expect(files.filter((file) => file.owner !== "0/0")).toEqual([]);
    const writable = files.filter((file) => file.mode[5] === "w" || file.mode[8] === "w");
    expect(writable.map((file) => `${file.mode} ${file.path}`)).toEqual(["drwxrwxrwt /tmp/"]);
  });

  test("its binary holds the five programs and no simulator, dev issuer, bench or test code", async () => {
    // The bundle names each module it holds in a `// <path>` line.
    const modules = new Set(
      [...(await Bun.file(binary).text()).matchAll(/^\/\/ ((?:apps|packages)\/\S+\.ts)$/gm)].map(
        (match) => match[1] ?? "",
      ),
    );
    for (const main of [
      "apps/api/src/main.ts",
      "apps/admin/src/main.ts",
      "apps/health-probe/src/main.ts",
      "apps/cli/src/main.ts",
      "packages/consent-audit/src/migrate-cli.ts",
    ])
      expect({ main, held: modules.has(main) }).toEqual({ main, held: true });
    const forbidden = [...modules].filter((path) =>
      /^apps\/(dev|partner-sim)\/|\/(test|bench|drill|fixtures)\/|\.test\.ts$|\/testing\.ts$/.test(
        path,
      ),
    );
    expect(forbidden).toEqual([]);
  });

  test("it runs as a numeric non-root user without a shell, and carries the OCI labels", async () => {
    const inspected = await podman(["image", "inspect", "--format", "{{json .Config}}", image]);
    const config = JSON.parse(inspected.output) as {
      Env: string[];
      User: string;
      Entrypoint: string[];
      Cmd: string[];
      Labels: Record<string, string>;
    };
    expect(config.User).toBe(`${USER}:${USER}`);
    expect(config.Entrypoint).toEqual(["/usr/local/bin/propgate"]);
    expect(config.Cmd).toEqual(["api"]);
    // Every container of the kit (compose, Kubernetes) runs with the heap growth the bench measures.
    expect(config.Env).toContain(`BUN_JSC_smallHeapGrowthFactor=${HEAP_GROWTH_FACTOR}`);
    const labels = config.Labels;
    expect(labels["org.opencontainers.image.title"]).toBe("propgate");
    expect(image).toBe(`propgate:${labels["org.opencontainers.image.version"]}`);
    expect(labels["org.opencontainers.image.revision"]).toMatch(/^[0-9a-f]{40}$/);
    expect(Date.parse(labels["org.opencontainers.image.created"] ?? "")).toBeGreaterThan(0);
    const passwd = readFileSync(join(ROOT, "infra/image/rootfs/etc/passwd"), "utf8");
    expect(passwd.trim().split(":")).toEqual([
      "propgate",
      "x",
      String(USER),
      String(USER),
      "propgate",
      "/nonexistent",
      "/usr/sbin/nologin",
    ]);
    const shell = await podman(["run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "id"]);
    expect(shell.code).not.toBe(0);
    expect(shell.output).toMatch(/no such file or directory/i);
  });

  test("the program word: none or an unknown one is usage and exit 2; `propgate` is the operator CLI", async () => {
    const unknown = await runOnce(`propgate-test-unknown-${process.pid}`, {}, ["apii"]);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toStartWith('propgate: no program "apii"');
    const cli = await runOnce(`propgate-test-cli-${process.pid}`, {}, ["propgate"]);
    expect(cli.code).toBe(0);
    for (const command of ["devices import", "security-check", "audit verify", "partner verify"])
      expect(cli.output).toContain(`propgate ${command}`);
    expect(cli.output).toContain("propgate blocks list");
    // The embedded PGlite is for runs from source: the image says so instead of failing on a file.
    const embedded = await runOnce(`propgate-test-pglite-${process.pid}`, { DATA_DIR: "/data" }, [
      "propgate",
      "audit",
      "verify",
    ]);
    expect(embedded).toEqual({
      code: 1,
      output: "propgate: the embedded PGlite runs from source only: set DATABASE_URL (PostgreSQL)",
    });
  });

  test("migrate applies the committed migrations to an empty database, then has nothing to do", async () => {
    expect(await checkReadiness(database)).toMatchObject({ ok: false });
    const env = { DATABASE_URL: database.url ?? "" };
    const first = await runOnce(`propgate-test-migrate-${process.pid}`, env, ["migrate"]);
    expect(first).toEqual({
      code: 0,
      output: `migrate: ${database.label} migrated, now up to date`,
    });
    expect(await checkReadiness(database)).toEqual({ ok: true });
    // By name this time: the image resolves it through /etc/hosts (its nsswitch.conf).
    const byName = (database.url ?? "").replace("@127.0.0.1:", "@localhost:");
    expect(byName).toContain("@localhost:");
    const again = await runOnce(`propgate-test-migrate-${process.pid}`, { DATABASE_URL: byName }, [
      "migrate",
    ]);
    expect(again).toEqual({
      code: 0,
      output: `migrate: ${database.label.replace("127.0.0.1", "localhost")} already up to date`,
    });
  });

  test("the api starts with production settings as a non-root process: /healthz, /readyz, /metrics; SIGTERM stops it cleanly", async () => {
    const env = productionApiEnv(dir, {
      DATABASE_URL: database.url ?? "",
      METRICS_LISTEN: "127.0.0.1:0",
    });
    for (const name of ["partner-client-secret", "partner-subject-key", "audit-signing-key.pem"])
      chownSync(join(dir, name), USER, USER);
    const name = `propgate-test-api-production-${process.pid}`;
    const api = start(name, env, ["api"]);
    try {
      const url = await loggedUrl(api, "api listening");
      const metricsUrl = await loggedUrl(api, "metrics listening");
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
      expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: "ready" });
      expect(await (await fetch(metricsUrl)).text()).toContain("propgate_");
      const pid = (await podman(["inspect", "--format", "{{.State.Pid}}", name])).output;
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1)).toEqual([String(USER), String(USER)]);
    } finally {
      expect(await api.stop()).toBe(0);
    }
    expect(api.lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  });

  describe("beside this host's partner simulator and dev issuer", () => {
    const PARTNER_SECRET = `image-partner-${crypto.randomUUID()}`;
    let sim: PartnerSim;
    let issuer: DevIssuer;
    let api: Child;
    let apiUrl = "";
    let partnerEnv: Record<string, string> = {};

    beforeAll(async () => {
      sim = await startPartnerSim({
        name: "intercom",
        clients: [
          {
            clientId: "propgate",
            clientSecret: PARTNER_SECRET,
            scopes: ["intercom.open", "barrier.open", "health.read"],
          },
        ],
        intercoms: SIM_INTERCOMS,
        barriers: ["bar-a"],
      });
      issuer = await startDevIssuer({
        privateJwk: await generateIssuerKey(),
        audience: "propgate-api",
      });
      const secret = writeSecret("dev-partner-secret", PARTNER_SECRET);
      const subjectKey = writeSecret("dev-subject-key", "ab".repeat(32));
      partnerEnv = Object.fromEntries(
        ["INTERCOM", "BARRIER"].flatMap((partner) => [
          [`PARTNER_${partner}_BASE_URL`, sim.url],
          [`PARTNER_${partner}_ISSUER`, sim.issuer],
          [`PARTNER_${partner}_CLIENT_ID`, "propgate"],
          [`PARTNER_${partner}_CLIENT_SECRET_FILE`, secret],
          [`PARTNER_${partner}_SUBJECT_KEY_FILE`, subjectKey],
        ]),
      );
      api = start(
        `propgate-test-api-${process.pid}`,
        {
          PROPGATE_ENV: "development",
          HOST: "127.0.0.1",
          PORT: "0",
          METRICS_LISTEN: "127.0.0.1:0",
          DATABASE_URL: database.url ?? "",
          AUTH_ISSUER: issuer.issuer,
          AUTH_AUDIENCE: "propgate-api",
          AUTH_JWKS_URL: issuer.jwksUrl.href,
          ...partnerEnv,
        },
        ["api"],
      );
      apiUrl = await loggedUrl(api, "api listening");
    }, 120_000);

    afterAll(async () => {
      await api?.stop();
      await Promise.all([sim?.stop(), issuer?.stop()]);
    });

    test("devices import, then a door opened through the api, its audit rows intact by audit verify", async () => {
      const devices = writeSecret("devices.json", JSON.stringify(SEED_DEVICES));
      const env = { PROPGATE_ENV: "development", DATABASE_URL: database.url ?? "" };
      const imported = await runOnce(`propgate-test-devices-${process.pid}`, env, [
        "propgate",
        "devices",
        "import",
        devices,
      ]);
      expect(imported.code).toBe(0);
      expect(imported.output).toStartWith(
        `devices import: ${SEED_DEVICES.length} device(s) registered`,
      );

      const token = await issuer.mint({ sub: "user-image", sites: ["site-a"] });
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const grant = await fetch(`${apiUrl}/trpc/consent.grant`, {
        method: "POST",
        headers,
        body: JSON.stringify({ purpose: "intercom", noticeVersion: 1 }),
      });
      expect(grant.status).toBe(200);
      const open = await fetch(`${apiUrl}/trpc/intercom.openDoor`, {
        method: "POST",
        headers,
        body: JSON.stringify({ deviceId: "door-a1" }),
      });
      expect(((await open.json()) as { result: { data: { status: string } } }).result.data).toEqual(
        expect.objectContaining({ status: "opened" }),
      );
      expect(sim.recorder.count({ operation: "intercom.open" })).toBe(1);
      const rows = await listAuditEvents(database.db, { userId: "user-image" });
      expect(rows.map((row) => row.kind)).toContain("partner.request");

      const verified = await runOnce(`propgate-test-verify-${process.pid}`, env, [
        "propgate",
        "audit",
        "verify",
      ]);
      expect(verified.code).toBe(0);
      expect(verified.output).toStartWith("audit verify: intact, ");
    });

    test("the admin app serves its page and signs an operator in at the dev issuer, calling the api for them", async () => {
      const clientSecret = `image-admin-${crypto.randomUUID()}`;
      const admin = start(
        `propgate-test-admin-${process.pid}`,
        {
          PROPGATE_ENV: "development",
          HOST: "127.0.0.1",
          PORT: "0",
          API_URL: apiUrl,
          ADMIN_OIDC_ISSUER: issuer.issuer,
          ADMIN_OIDC_CLIENT_ID: "propgate-admin-image",
          ADMIN_OIDC_CLIENT_SECRET_FILE: writeSecret("admin-client-secret", clientSecret),
          ADMIN_SESSION_SECRET_FILE: writeSecret("admin-session-secret", "s".repeat(44)),
          // Its sessions live in PostgreSQL (the image has no PGlite).
          DATABASE_URL: database.url ?? "",
        },
        ["admin"],
      );
      try {
        const [, origin = "", redirectUri = ""] = await admin.waitFor(
          /^admin app on (http:\/\/[^\s,]+),? .*redirect URI (\S+)\)$/,
          30_000,
        );
        issuer.registerClient({
          clientId: "propgate-admin-image",
          clientSecret,
          redirectUris: [redirectUri],
        });
        // The page's files, the script bundled when the image was built.
        const script = await fetch(`${origin}/admin.js`);
        expect(script.status).toBe(200);
        expect(await script.text()).toBe(await bundleAdminPage());
        const style = await fetch(`${origin}/admin.css`);
        expect(await style.text()).toBe(await adminStylesheet());

        const jar = new CookieJar();
        const send = (path: string) =>
          fetch(`${origin}${path}`, { redirect: "manual", headers: { cookie: jar.header() } });
        const login = await send("/auth/login");
        expect(login.status).toBe(302);
        jar.take(login);
        const back = await pickAccount(issuer.url, new URL(login.headers.get("location") ?? ""));
        const signedIn = await send(`${back.pathname}${back.search}`);
        jar.take(signedIn);
        expect(await signedIn.text()).toContain('data-notice="signed_in"');
        const page = await send("/");
        expect(page.status).toBe(200);
        expect(await page.text()).toBe(
          readFileSync(join(ROOT, "apps/admin/src/page/index.html"), "utf8"),
        );
        const me = await send("/trpc/admin.me");
        expect(await me.json()).toEqual({
          result: { data: { userId: "dev-operator", role: "operator" } },
        });
      } finally {
        expect(await admin.stop()).toBe(0);
      }
    });

    test("the health probe checks the partner and serves /metrics; its VPN collector runs the image's wg", async () => {
      const intercom = Object.entries(partnerEnv).filter(([key]) => key.includes("_INTERCOM_"));
      const probe = start(
        `propgate-test-probe-${process.pid}`,
        {
          PROPGATE_ENV: "development",
          HOST: "127.0.0.1",
          PORT: "0",
          DATABASE_URL: database.url ?? "",
          PROBE_INTERVAL_MS: "1000",
          VPN_POLL_INTERVAL_MS: "1000",
          ...Object.fromEntries(intercom),
        },
        ["health-probe"],
      );
      try {
        const url = await loggedUrl(probe, "health probe listening");
        const deadline = Date.now() + 20_000;
        let metrics = "";
        while (!/^propgate_probe_success\{[^}]*check="health"[^}]*\} 1$/m.test(metrics)) {
          if (Date.now() > deadline) throw new Error(`no successful health check:\n${metrics}`);
          metrics = await (await fetch(`${url}/metrics`)).text();
          await Bun.sleep(200);
        }
        // No WireGuard interface in the container: `wg` runs and says so (a missing binary
        // would fail to spawn instead).
        const warning = await probe.waitFor(/"msg":"vpn poll failed"/, 20_000);
        expect(warning.input).toContain("wg exited with");
      } finally {
        expect(await probe.stop()).toBe(0);
      }
    });
  });

  test("security-check in the image reports on the repository's templates as it does from source", async () => {
    const args = [
      "security-check",
      "--json",
      "--at",
      "2030-01-01T00:00:00Z",
      "--nft",
      join(ROOT, "infra/firewall/partner-surface.nft"),
    ];
    const fromSource = await runToExit(
      [process.execPath, join(ROOT, "apps/cli/src/main.ts"), ...args],
      PODMAN_ENV,
    );
    names.add(`propgate-test-security-${process.pid}`);
    const fromImage = await podman([
      "run",
      "--rm",
      "--name",
      `propgate-test-security-${process.pid}`,
      "--volume",
      `${ROOT}/infra:${ROOT}/infra:ro`,
      image,
      "propgate",
      ...args,
    ]);
    expect(fromImage).toEqual(fromSource);
  });
});
