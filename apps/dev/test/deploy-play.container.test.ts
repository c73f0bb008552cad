import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkReadiness,
  createAuditSigner,
  generateAuditSigningKey,
  signProcessChain,
  upsertDevices,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { SURFACE_SCOPES } from "@propgate/domain";
import { type PartnerSim, startPartnerSim } from "@propgate/partner-sim";
import { createTestCertificates, type TestCertificates } from "@propgate/partner-sim/testing";
import { freePort } from "../drill/throwaway-postgres.ts";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";
import { SEED_DEVICES, SIM_BARRIERS, SIM_INTERCOMS } from "../src/seed.ts";
import { HIGH_RATE_LIMITS } from "../src/testing/harness.ts";
import { type Child, runToExit, spawnChild } from "../src/testing/processes.ts";

/*
 * Played as deployed: infra/k8s/local rendered by `kubectl kustomize` and run with
 * `podman kube play` (Debian's podman 4.3, as root with runc) against this machine's PostgreSQL
 * (a throwaway database and throwaway roles made here, as infra/postgres/roles.sql makes them)
 * and Redis; the identity provider and the partner run on the host over TLS. The test's layer
 * on the overlay (as an operator's would be): those addresses and their CA, the Secrets, the
 * image it built. HAProxy (Debian) in front of the two api pods checks /readyz; a steady load
 * of door opens (apps/dev/drill/load.ts) goes through it while each api pod is replaced in turn.
 *
 * What podman 4.3 cannot play is played as close as it gets (infra/k8s/README.md, "The local
 * overlay"): the migrate Job as a Pod of its template (podman plays no Job), and a rolling
 * update as stop-then-play of one pod at a time (podman has no controller; on host ports a
 * surge pod could not bind beside the old one).
 * About 90 s with the image already built from the same tree.
 */
const ROOT = join(import.meta.dir, "../../..");
const LOCAL = join(ROOT, "infra/k8s/local");

function missingTool(): string | null {
  for (const [tool, why] of [
    ["podman", "plays the overlay"],
    ["catatonit", "is the pause process of podman's pods"],
    ["haproxy", "balances the api pods"],
    ["wrk", "is the load of door opens"],
    ["kubectl", "renders the overlay"],
    ["psql", "applies infra/postgres/roles.sql"],
    ["openssl", "makes the test CA"],
  ] as const)
    if (Bun.which(tool, { PATH: `${process.env.PATH}:/usr/libexec/podman` }) === null)
      return `${tool} is not installed: it ${why} (scripts/install-system-tools.sh installs it)`;
  if (process.getuid?.() !== 0) return "the pods run with podman as root, as in CI";
  if (!process.env.DATABASE_URL) return "the pods need PostgreSQL (DATABASE_URL)";
  return null;
}
const missing = missingTool();
if (missing && process.env.CI) throw new Error(`the container lane must run in CI: ${missing}`);
if (missing) console.warn(`[skip] deploy play: ${missing}`);

const PODMAN_ENV = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "/root",
  CONTAINERS_CONF: join(ROOT, "infra/image/containers.conf"),
};
const podman = (args: string[]) => runToExit(["podman", ...args], PODMAN_ENV);
async function must(args: string[]): Promise<string> {
  const run = await podman(args);
  if (run.code !== 0)
    throw new Error(`podman ${args.join(" ")} exited ${run.code}:\n${run.output}`);
  return run.output;
}

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML, changed field by field
type Manifest = any;

/** The local overlay's ports (infra/k8s/local): api a and b, admin, the probe. */
/**
 * wrk's upper bound: the test stops it (SIGINT, after which wrk prints its summary) once both
 * replacements are done and 100 more doors opened; the replacements take ~20 s here, longer on a
 * loaded machine, so the load's length follows them rather than a guess.
 */
const WRK_MAX_SECONDS = 600;
const API_A = "http://127.0.0.1:18080";
const API_B = "http://127.0.0.1:18081";
const ADMIN = "http://127.0.0.1:18790";
const PROBE = "http://127.0.0.1:19464";
/** The pods podman makes of each Deployment: `<name>-pod-0`. */
const POD = {
  a: "propgate-api-pod-0",
  b: "propgate-api-b-pod-0",
  probe: "propgate-health-probe-pod-0",
  admin: "propgate-admin-pod-0",
} as const;

async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | null>) {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const value = await check().catch(() => null);
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await Bun.sleep(200);
  }
}
const status = async (url: string) => (await fetch(url)).status;

describe.skipIf(missing !== null)("infra/k8s/local played with podman kube play", () => {
  const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const ROLES = {
    owner_role: `propgate_p_${suffix}_owner`,
    api_role: `propgate_p_${suffix}_api`,
    admin_role: `propgate_p_${suffix}_admin`,
    readonly_role: `propgate_p_${suffix}_ro`,
    admin_app_role: `propgate_p_${suffix}_adminapp`,
  };
  const PASSWORD = randomBytes(16).toString("hex");
  const PARTNER_SECRET = `play-partner-${crypto.randomUUID()}`;
  const secretNames = new Set<string>();
  let dir = "";
  let database: TestDatabase;
  let certs: TestCertificates;
  let issuer: DevIssuer;
  let sim: PartnerSim;
  let haproxy: Child;
  let lbUrl = "";
  let statsUrl = "";
  let objects: Manifest[] = [];
  let configMaps: Manifest[] = [];
  let migrated = { code: -1, output: "" };
  const tokens: string[] = [];

  const urlAs = (role: string) => {
    const url = new URL(database.url ?? "");
    url.username = role;
    url.password = "";
    return url.toString();
  };

  async function applyRoles() {
    const vars = Object.entries(ROLES).flatMap(([name, value]) => ["-v", `${name}=${value}`]);
    const run = await runToExit(
      [
        "psql",
        "-X",
        "-q",
        ...vars,
        "-f",
        join(ROOT, "infra/postgres/roles.sql"),
        database.url ?? "",
      ],
      PODMAN_ENV,
    );
    if (run.code !== 0) throw new Error(`roles.sql: ${run.output}`);
  }

  async function psql(url: string, command: string) {
    const run = await runToExit(["psql", "-X", "-q", "-c", command, url], PODMAN_ENV);
    if (run.code !== 0) throw new Error(`psql ${command}: ${run.output}`);
  }

  /** A Secret as podman 4.3 takes it: a podman secret whose data is the Secret's YAML. */
  async function createSecret(name: string, data: Record<string, string>) {
    const file = join(dir, `${name}.secret.yaml`);
    // `data` unencoded: podman 4.3 writes its values to the files as they are (base64 would
    // stay base64), and skips `stringData` for a volume with `items`.
    writeFileSync(
      file,
      JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name }, data }),
    );
    await podman(["secret", "rm", name]);
    await must(["secret", "create", name, file]);
    secretNames.add(name);
  }

  const find = (kind: string, name: string): Manifest => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name}`);
    return found;
  };
  const configMap = (name: string): Record<string, string> => {
    const found = configMaps.find((o) =>
      new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata.name),
    );
    if (!found) throw new Error(`no ConfigMap ${name}`);
    return found.data;
  };

  /** One Deployment (or the Job's pod) with every ConfigMap, as a file `podman kube play` takes. */
  function kubeFile(name: string, object: Manifest): string {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, [...configMaps, object].map((o) => JSON.stringify(o)).join("\n---\n"));
    return file;
  }
  const deploymentFile = (name: string) => kubeFile(name, find("Deployment", name));

  /** HAProxy's view of a backend server: UP, DOWN, … (its stats CSV). */
  async function serverState(server: "a" | "b"): Promise<string> {
    const csv = await (await fetch(`${statsUrl};csv`)).text();
    const row = csv.split("\n").find((line) => line.startsWith(`api,${server},`));
    return row?.split(",")[17] ?? "absent";
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "propgate-play-"));
    const built = await runToExit(
      [process.execPath, join(ROOT, "scripts/image.ts"), "--reuse", "--no-latest"],
      PODMAN_ENV,
    );
    if (built.code !== 0) throw new Error(`bun run image failed:\n${built.output}`);
    const image = /^(?:built|reused) (propgate:\S+)$/m.exec(built.output)?.[1] ?? "";

    const rendered = await runToExit(["kubectl", "kustomize", LOCAL], PODMAN_ENV);
    if (rendered.code !== 0) throw new Error(`kubectl kustomize: ${rendered.output}`);
    objects = (Bun.YAML.parse(rendered.output) as Manifest[]).filter(Boolean);
    configMaps = objects.filter((o) => o.kind === "ConfigMap");

    // The database, its roles (before the migration, as the DBA step), the host's services.
    database = await createTestDatabase({ migrate: false });
    await applyRoles();
    for (const role of Object.values(ROLES))
      await psql(database.url ?? "", `alter role "${role}" password '${PASSWORD}'`);
    const made = createTestCertificates();
    if (!made) throw new Error("openssl is needed for the test CA");
    certs = made;
    const tls = {
      cert: await Bun.file(certs.serverCertFile).text(),
      key: await Bun.file(certs.serverKeyFile).text(),
    };
    issuer = await startDevIssuer({
      privateJwk: await generateIssuerKey(),
      audience: "propgate",
      tls,
    });
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
      barriers: SIM_BARRIERS,
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
    });

    // The test's layer: where the host's services are, the CA they chain to, and rate limits
    // above the load's (every resident opens a door a second).
    const CA = "/run/secrets/propgate/test-ca/ca.pem";
    Object.assign(configMap("propgate-api"), {
      DATABASE_URL: urlAs(ROLES.api_role),
      AUTH_ISSUER: issuer.issuer,
      AUTH_JWKS_URL: issuer.jwksUrl.href,
      AUTH_JWKS_CA_FILE: CA,
      ...HIGH_RATE_LIMITS,
    });
    const partners = configMap("propgate-partners");
    for (const partner of ["INTERCOM", "BARRIER"])
      Object.assign(partners, {
        [`PARTNER_${partner}_BASE_URL`]: sim.url,
        [`PARTNER_${partner}_ISSUER`]: sim.issuer,
        [`PARTNER_${partner}_CA_FILE`]: CA,
      });
    Object.assign(configMap("propgate-health-probe"), { DATABASE_URL: urlAs(ROLES.api_role) });
    Object.assign(configMap("propgate-migrate"), { DATABASE_URL: urlAs(ROLES.owner_role) });
    Object.assign(configMap("propgate-admin"), {
      ADMIN_OIDC_ISSUER: issuer.issuer,
      DATABASE_URL: urlAs(ROLES.admin_app_role),
    });
    for (const o of objects.filter((o) => o.kind === "Deployment" || o.kind === "Job")) {
      const spec = o.spec.template.spec;
      for (const container of spec.containers) {
        container.image = container.image.replace("propgate:latest", image);
        // podman 4.3 publishes every containerPort, which a host-network pod refuses; on the
        // host's network a port needs no publishing. (It runs no readiness probe: HAProxy does.)
        delete container.ports;
        delete container.readinessProbe;
      }
      // podman 4.3 dereferences `optional` unset (a nil pointer): say it.
      for (const volume of spec.volumes ?? []) if (volume.secret) volume.secret.optional = false;
      if (o.metadata.name === "propgate-admin" || o.kind === "Job") continue;
      spec.volumes.push({
        name: "test-ca",
        secret: { secretName: "propgate-test-ca", optional: false },
      });
      spec.containers[0].volumeMounts.push({
        name: "test-ca",
        mountPath: "/run/secrets/propgate/test-ca",
        readOnly: true,
      });
    }

    // The Secrets the README lists, made as an operator makes them.
    const ed25519 = () => generateKeyPairSync("ed25519");
    const auditKey = generateAuditSigningKey();
    const partner = { "client-secret": PARTNER_SECRET, "subject-key": "e1".repeat(32) };
    const clientsJson = JSON.stringify([
      {
        clientId: "intercom-partner",
        secretHash: Bun.password.hashSync("play-secret", {
          algorithm: "argon2id",
          memoryCost: 4096,
          timeCost: 2,
        }),
        partner: "intercom",
        scopes: [...SURFACE_SCOPES],
        addresses: ["127.0.0.1"],
      },
    ]);
    for (const [name, data] of Object.entries<Record<string, string>>({
      "propgate-db-owner": { password: PASSWORD },
      "propgate-db-api": { password: PASSWORD },
      "propgate-db-readonly": { password: PASSWORD },
      "propgate-db-admin-app": { password: PASSWORD },
      "propgate-audit-signing-key": { "private.pem": auditKey },
      "propgate-partner-intercom": partner,
      "propgate-partner-barrier": partner,
      "propgate-partner-surface": {
        "clients.json": clientsJson,
        "token-key.pem": ed25519().privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      },
      "propgate-admin": {
        "oidc-client-secret": randomBytes(24).toString("hex"),
        "session-secret": randomBytes(32).toString("base64"),
      },
      "propgate-test-ca": { "ca.pem": await Bun.file(certs.caFile).text() },
    }))
      await createSecret(name, data);

    // The migrate Job, as the pod of its template (podman plays no Job); then the table grants.
    const job = find("Job", "propgate-migrate");
    const migratePod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "propgate-migrate", labels: job.spec.template.metadata.labels },
      spec: job.spec.template.spec,
    };
    await must(["kube", "play", "--replace", kubeFile("propgate-migrate", migratePod)]);
    const code = await must(["wait", "propgate-migrate-migrate"]);
    migrated = { code: Number(code), output: await must(["logs", "propgate-migrate-migrate"]) };
    if (migrated.code !== 0) throw new Error(`migrate exited ${code}:\n${migrated.output}`);
    await applyRoles();

    // The devices, signed with the api's key as `propgate devices import` would sign them.
    const seeding = signProcessChain(database.db, createAuditSigner(auditKey));
    await upsertDevices(database.db, SEED_DEVICES, { sourceApp: "play", instanceId: "play" });
    await seeding.release();

    for (const name of [
      "propgate-api",
      "propgate-api-b",
      "propgate-health-probe",
      "propgate-admin",
    ])
      await must(["kube", "play", "--replace", deploymentFile(name)]);

    const [port, statsPort] = [await freePort(), await freePort()];
    lbUrl = `http://127.0.0.1:${port}`;
    statsUrl = `http://127.0.0.1:${statsPort}/stats`;
    const config = join(dir, "haproxy.cfg");
    writeFileSync(
      config,
      `global
  log stderr format short local0 info
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend door
  bind 127.0.0.1:${port}
  default_backend api
backend api
  # The readiness probe's (infra/k8s/base/api): out after 2 misses, checked every second.
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr host localhost
  http-check expect status 200
  default-server inter 1s fall 2 rise 1
  server a 127.0.0.1:18080 check
  server b 127.0.0.1:18081 check
listen stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
`,
    );
    haproxy = spawnChild(["haproxy", "-db", "-f", config], PODMAN_ENV);
  }, 600_000);

  afterAll(async () => {
    await haproxy?.stop();
    for (const pod of [...Object.values(POD), "propgate-migrate"])
      await podman(["pod", "rm", "--force", "--ignore", pod]);
    if (secretNames.size > 0) await podman(["secret", "rm", ...secretNames]);
    await podman(["volume", "prune", "--force"]);
    await Promise.all([sim?.stop(), issuer?.stop()]);
    await database?.close();
    for (const role of Object.values(ROLES))
      await psql(process.env.DATABASE_URL ?? "", `drop role if exists "${role}"`);
    certs?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the migrate job completes; 2 api pods, the admin app and the probe become ready", async () => {
    expect(migrated.code).toBe(0);
    expect(migrated.output).toContain("migrated, now up to date");
    expect(await checkReadiness(database)).toEqual({ ok: true });
    await poll("api a ready", 60_000, async () => (await status(`${API_A}/readyz`)) === 200).catch(
      async (error) => {
        throw new Error(
          `${error}:\n${(await podman(["logs", "--tail", "20", `${POD.a}-api`])).output}`,
        );
      },
    );
    await poll("api b ready", 60_000, async () => (await status(`${API_B}/readyz`)) === 200);
    await poll("probe up", 60_000, async () => (await status(`${PROBE}/healthz`)) === 200);
    // The admin app has no health route: its probe is the listener (a TCP check).
    await poll("admin listening", 60_000, async () => (await status(`${ADMIN}/`)) > 0);
    // Each a pod of podman's, running the image as the manifests say.
    for (const pod of Object.values(POD)) {
      const state = await must(["pod", "inspect", "--format", "{{.State}}", pod]);
      expect({ pod, state }).toEqual({ pod, state: "Running" });
    }
    const user = await must(["inspect", "--format", "{{.Config.User}}", `${POD.a}-api`]);
    expect(user).toBe("65532:65532");
    expect(
      await must(["inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", `${POD.a}-api`]),
    ).toBe("true");
  });

  test("HAProxy health-checks /readyz of both api pods and serves through them", async () => {
    await poll("both servers UP", 30_000, async () =>
      (await serverState("a")) === "UP" && (await serverState("b")) === "UP" ? true : null,
    ).catch((error) => {
      throw new Error(`${error}:\n${haproxy.lines.join("\n")}`);
    });
    for (let i = 0; i < 20; i++) {
      const token = await issuer.mint({ sub: `play-resident-${suffix}-${i}`, sites: ["site-a"] });
      const granted = await fetch(`${lbUrl}/trpc/consent.grant`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ purpose: "intercom", noticeVersion: 1 }),
      });
      expect(granted.status).toBe(200);
      tokens.push(token);
    }
    // Both instances answered: audit rows name the pod that wrote them.
    const writers = (await database.db.execute(
      "select distinct instance_id from audit_events where kind = 'consent.grant'",
    )) as unknown as Array<{ instance_id: string }>;
    expect(writers.map((row) => row.instance_id).sort()).toEqual([POD.b, POD.a]);
  });

  test("replacing the api pods one at a time under a steady load of door opens loses no request; every partner request has its audit row", async () => {
    expect(tokens.length).toBe(20);
    // wrk (Debian) holds two connections to HAProxy busy with door opens, each with a token of
    // the residents and a fresh idempotency key, for the whole replacement and a while after.
    const script = join(dir, "door-opens.lua");
    writeFileSync(
      script,
      `local tokens = { ${tokens.map((token) => `"${token}"`).join(", ")} }
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"deviceId":"door-a1","idempotencyKey":"wrk-play-%d"}', n)
  return wrk.format("POST", "/trpc/intercom.openDoor", {
    ["authorization"] = "Bearer " .. tokens[(n % #tokens) + 1],
    ["content-type"] = "application/json",
  }, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\\n',
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
`,
    );
    const wrk = spawnChild(["wrk", "-t1", "-c2", `-d${WRK_MAX_SECONDS}s`, "-s", script, lbUrl], {
      PATH: process.env.PATH ?? "",
    });
    /** Waits until the load has opened `more` doors at the partner beyond what it has now. */
    const loadFlows = async (more: number) => {
      const from = sim.recorder.count({ operation: "intercom.open" });
      await poll("door opens under load", 10_000, async () =>
        sim.recorder.count({ operation: "intercom.open" }) >= from + more ? true : null,
      );
    };
    await loadFlows(100);
    for (const [server, pod, name, url] of [
      ["a", POD.a, "propgate-api", API_A],
      ["b", POD.b, "propgate-api-b", API_B],
    ] as const) {
      // SIGTERM with the manifest's grace (podman 4.3 ignores terminationGracePeriodSeconds).
      const grace = String(
        find("Deployment", name).spec.template.spec.terminationGracePeriodSeconds,
      );
      const stopping = must(["pod", "stop", "--time", grace, pod]);
      // The drain: HAProxy takes the pod out on its 503 /readyz while it still serves.
      await poll(`${server} DOWN at HAProxy`, 10_000, async () =>
        (await serverState(server)) === "UP" ? null : true,
      );
      await stopping;
      const exited = await must(["inspect", "--format", "{{.State.ExitCode}}", `${pod}-api`]);
      expect({ pod, exited }).toEqual({ pod, exited: "0" });
      await must(["kube", "play", "--replace", deploymentFile(name)]);
      await poll(
        `${server} ready again`,
        60_000,
        async () => (await status(`${url}/readyz`)) === 200,
      );
      await poll(`${server} UP at HAProxy`, 10_000, async () =>
        (await serverState(server)) === "UP" ? true : null,
      );
      await loadFlows(100);
    }
    // The load ran through both replacements and after them; now it ends, and says what it saw.
    expect(wrk.process.exitCode).toBeNull();
    wrk.process.kill("SIGINT");
    const [line = ""] = await wrk.waitFor(/^WRK \{.*\}$/, 30_000).catch((error) => {
      throw new Error(`${error}\nwrk said:\n${wrk.lines.join("\n")}`);
    });
    // SIGINT ends wrk after its summary: it exits by itself, 0.
    expect(await wrk.process.exited).toBe(0);
    const run = JSON.parse(line.slice(4)) as {
      requests: number;
      status: number;
      connect: number;
      read: number;
      write: number;
      timeout: number;
    };
    console.log(`door opens through HAProxy (wrk): ${JSON.stringify(run)}`);
    expect(run.requests).toBeGreaterThan(200);
    // No answer other than 200, and no connection refused, reset or timed out.
    expect(run).toEqual({
      requests: run.requests,
      status: 0,
      connect: 0,
      read: 0,
      write: 0,
      timeout: 0,
    });
    const sent = run.requests;
    const drained = haproxy.lines.filter((line) =>
      /^\[WARNING\].*Server api\/[ab] is DOWN/.test(line),
    );
    expect(drained.length).toBe(2);
    for (const line of drained) expect(line).toContain("Layer7 wrong status, code: 503");

    // Every partner request the sim received has its audit row, written before it was sent;
    // every answer its row too, once the running pods' writers have sent their last batch (an
    // answer's row waits up to resultLingerMs for the next attempt to ride with).
    const count = async () => {
      const [rows] = (await database.db.execute(
        `select count(*) filter (where kind = 'partner.request')::int as requests,
                  count(*) filter (where kind = 'partner.response')::int as responses
           from audit_events where operation = 'intercom.open'`,
      )) as unknown as Array<{ requests: number; responses: number }>;
      return { opens: sim.recorder.count({ operation: "intercom.open" }), ...rows };
    };
    // The last requests wrk left out may still be on their way; the answers' rows ride with the
    // writers' next batch. Polled (5 s deadline) until the partner and the log agree.
    let seen = await count();
    const settled = () => seen.requests === seen.opens && seen.responses === seen.opens;
    for (const deadline = Date.now() + 5000; !settled() && Date.now() < deadline; ) {
      await Bun.sleep(50); // polling the database and the sim's recorder, with a deadline
      seen = await count();
    }
    console.log(`partner opens and their audit rows: ${JSON.stringify(seen)}`);
    expect(seen).toEqual({ opens: seen.opens, requests: seen.opens, responses: seen.opens });
    // wrk counts the answers it read; when its time is up each connection may have one request
    // out, which the partner received but wrk never counted.
    expect(seen.opens - sent).toBeGreaterThanOrEqual(0);
    expect(seen.opens - sent).toBeLessThanOrEqual(2);
  }, 180_000);
});
