import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  type AuditChainVerdict,
  createAuditSigner,
  generateAuditSigningKey,
  migrateDatabase,
  openDatabase,
  signProcessChain,
  upsertDevices,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { PARTNER_SCOPES } from "@propgate/domain";
import type { Subprocess } from "bun";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";
import { SEED_DEVICES, SIM_BARRIERS, SIM_CAMERAS, SIM_INTERCOMS } from "../src/seed.ts";
import { HIGH_RATE_LIMITS } from "../src/testing/harness.ts";
import { freePort, startThrowawayPostgres, type ThrowawayPostgres } from "./throwaway-postgres.ts";
import { startThrowawayRedis, type ThrowawayRedis } from "./throwaway-redis.ts";

/**
 * What a drill runs against, every part a process or server of its own so it can be killed:
 * a throwaway PostgreSQL (and Redis), the partner simulator as a child process on fixed ports
 * (restarted with fresh signing keys), the dev identity issuer, and the api as a child process.
 */
export interface Rig {
  pg: ThrowawayPostgres;
  redis: ThrowawayRedis | null;
  sim: SimProcess;
  api: ApiProcess;
  issuer: DevIssuer;
  /** Bearer tokens of residents with `intercom` consent granted. */
  residents: string[];
  /** Counts of the audit log, read from the throwaway database. */
  auditCounts(): Promise<{ requests: number; responses: number }>;
  /** `audit verify` with the api's public key, by the clock `now` (default: now). */
  auditVerify(now?: Date): Promise<AuditChainVerdict>;
  close(): Promise<void>;
}

export interface RigOptions {
  residents?: number;
  redis?: boolean;
  /** Partner access token lifetime (the sim's), seconds. */
  tokenLifetimeSeconds?: number;
  /** Extra api settings. */
  env?: Record<string, string>;
}

const ROOT = resolve(import.meta.dir, "../../..");
const SIM_MAIN = join(ROOT, "apps/partner-sim/src/main.ts");
const DEV_API = join(ROOT, "apps/dev/src/dev-api.ts");
const SECRET = `drill-secret-${crypto.randomUUID()}`;

export interface SimProcess {
  url: string;
  adminUrl: string;
  /** Applies a fault patch through the sim's admin API. */
  faults(patch: Record<string, unknown>): Promise<void>;
  /** `intercom.open` requests the sim received (every attempt), from its recorder. */
  opens(): Promise<number>;
  kill(): Promise<void>;
  start(): Promise<void>;
}

export interface ApiProcess {
  url: string;
  metricsUrl: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  signal(name: "SIGTERM" | "SIGKILL"): void;
  /** VmRSS in MB. */
  rssMb(): number;
  /** A gauge or counter's value on /metrics (the first series whose labels contain `match`). */
  metric(name: string, match?: string): Promise<number | null>;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

async function startSim(dir: string, tokenLifetimeSeconds: number): Promise<SimProcess> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  let child: Subprocess | null = null;
  const start = async () => {
    const log = openSync(join(dir, "sim.log"), "a");
    child = Bun.spawn([process.execPath, SIM_MAIN], {
      env: {
        PATH: process.env.PATH ?? "",
        HOST: "127.0.0.1",
        PORT: String(port),
        ADMIN_PORT: String(adminPort),
        SIM_NAME: "intercom",
        SIM_CLIENTS: JSON.stringify([
          {
            clientId: "propgate",
            clientSecret: SECRET,
            scopes: PARTNER_SCOPES,
          },
        ]),
        SIM_INTERCOMS: SIM_INTERCOMS.join(","),
        SIM_BARRIERS: SIM_BARRIERS.join(","),
        SIM_CAMERAS: SIM_CAMERAS.join(","),
        SIM_TOKEN_LIFETIME_SECONDS: String(tokenLifetimeSeconds),
      },
      stdin: "ignore",
      stdout: log,
      stderr: log,
    });
    closeSync(log);
    await waitUntil(
      async () => (await fetch(`${adminUrl}/admin/faults`)).ok,
      20_000,
      "the partner sim did not start",
    );
  };
  await start();
  return {
    url,
    adminUrl,
    async faults(patch) {
      const answer = await fetch(`${adminUrl}/admin/faults`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(patch),
      });
      if (!answer.ok) throw new Error(`sim faults ${answer.status}: ${await answer.text()}`);
    },
    async opens() {
      const answer = await fetch(`${adminUrl}/admin/requests?operation=intercom.open`);
      const body = (await answer.json()) as { requests: unknown[] };
      return body.requests.length;
    },
    async kill() {
      const running = child;
      child = null;
      if (!running) return;
      running.kill("SIGKILL");
      await running.exited;
    },
    start,
  };
}

async function startApi(dir: string, env: Record<string, string>): Promise<ApiProcess> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const logFile = join(dir, "api.log");
  const log = openSync(logFile, "a");
  const child = Bun.spawn([process.execPath, DEV_API], {
    env: {
      ...env,
      HOST: "127.0.0.1",
      PORT: String(port),
      METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
    },
    stdin: "ignore",
    stdout: log,
    stderr: log,
  });
  closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await waitUntil(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`api exited: ${readFileSync(logFile, "utf8").slice(-2000)}`);
      return (await fetch(`${url}/readyz`)).ok;
    },
    30_000,
    "the api did not become ready",
  );
  return {
    url,
    metricsUrl,
    pid: child.pid,
    logFile,
    exited: child.exited,
    signal: (name) => child.kill(name),
    rssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    async metric(name, match = "") {
      const text = await (await fetch(metricsUrl)).text();
      const line = text
        .split("\n")
        .find((row) => row.startsWith(`${name}{`) && row.includes(match));
      return line ? Number(line.split(" ").at(-1)) : null;
    },
  };
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "propgate-drill-"));
  const pg = await startThrowawayPostgres();
  const database = await openDatabase({ url: pg.url, max: 2 });
  await migrateDatabase(database);
  // The api signs its audit chains; the rig's own seeding is signed and closed with the same key.
  const auditKey = generateAuditSigningKey();
  const auditKeyFile = join(dir, "audit-signing-key.pem");
  writeFileSync(auditKeyFile, auditKey, { mode: 0o600 });
  const signer = createAuditSigner(auditKey);
  const seeding = signProcessChain(database.db, signer);
  await upsertDevices(database.db, SEED_DEVICES, { sourceApp: "drill", instanceId: "drill" });
  await seeding.release();
  const redis = options.redis ? await startThrowawayRedis() : null;
  const sim = await startSim(dir, options.tokenLifetimeSeconds ?? 300);
  const issuer = await startDevIssuer({
    privateJwk: await generateIssuerKey(),
    audience: "propgate-api",
  });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? tmpdir(),
    PROPGATE_ENV: "development",
    LOG_LEVEL: "info",
    INSTANCE_ID: "drill-api",
    DATABASE_URL: pg.url,
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: "propgate-api",
    AUTH_JWKS_URL: issuer.jwksUrl.href,
    AUDIT_SIGNING_KEY_FILE: auditKeyFile,
    ...HIGH_RATE_LIMITS,
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...options.env,
  };
  for (const partner of ["INTERCOM", "BARRIER"]) {
    env[`PARTNER_${partner}_BASE_URL`] = sim.url;
    env[`PARTNER_${partner}_ISSUER`] = sim.url;
    env[`PARTNER_${partner}_CLIENT_ID`] = "propgate";
    env[`PARTNER_${partner}_CLIENT_SECRET`] = SECRET;
    env[`PARTNER_${partner}_SUBJECT_KEY`] = "d1".repeat(32);
    env[`PARTNER_${partner}_TIMEOUT_MS`] ??= "2000";
  }
  Object.assign(env, options.env);
  const api = await startApi(dir, env);
  const residents: string[] = [];
  for (let i = 0; i < (options.residents ?? 8); i++) {
    const token = await issuer.mint({ sub: `drill-resident-${i}`, sites: ["site-a"] });
    const granted = await fetch(`${api.url}/trpc/consent.grant`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ purpose: "intercom", noticeVersion: 1 }),
    });
    if (!granted.ok) throw new Error(`consent grant ${granted.status}: ${await granted.text()}`);
    residents.push(token);
  }
  return {
    pg,
    redis,
    sim,
    api,
    issuer,
    residents,
    async auditCounts() {
      const rows = (await database.db.execute(
        `select count(*) filter (where kind = 'partner.request')::int as requests,
                count(*) filter (where kind = 'partner.response')::int as responses
         from audit_events where operation = 'intercom.open'`,
      )) as unknown as Array<{ requests: number; responses: number }>;
      return rows[0] ?? { requests: 0, responses: 0 };
    },
    auditVerify: (now) => verifyAuditChain(database.db, { publicKey: signer.publicKey, now }),
    async close() {
      api.signal("SIGKILL");
      await api.exited;
      await sim.kill();
      await issuer.stop();
      await database.close();
      await redis?.destroy();
      await pg.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
