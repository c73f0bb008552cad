import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createAuditSigner,
  generateAuditSigningKey,
  listAuditEvents,
  migrateDatabase,
  openDatabase,
  parseCheckpointLog,
  signProcessChain,
  upsertDevices,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { type PartnerSim, startPartnerSim } from "@propgate/partner-sim";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";
import { SEED_DEVICES, SIM_INTERCOMS } from "../src/seed.ts";
import { HIGH_RATE_LIMITS } from "../src/testing/harness.ts";
import { type Child, spawnChild } from "../src/testing/processes.ts";

/** The `url` of the first JSON log line with this message. */
async function listeningUrl(child: Child, message: string): Promise<string> {
  const [line] = await child.waitFor(new RegExp(`^\\{.*"${message}".*\\}$`));
  return JSON.parse(line).url;
}

/** `bun run --cwd apps/api start`: one api instance from the environment, as in production. */
const MAIN = `${import.meta.dir}/../../api/src/main.ts`;
const SECRET = "client-secret-for-main-test-0123456789";
const dir = mkdtempSync(join(tmpdir(), "propgate-main-"));
let sim: PartnerSim;
let issuer: DevIssuer;
let database: TestDatabase;
let databaseEnv: Record<string, string>;

beforeAll(async () => {
  sim = await startPartnerSim({
    name: "intercom",
    clients: [
      { clientId: "propgate", clientSecret: SECRET, scopes: ["intercom.open", "barrier.open"] },
    ],
    intercoms: SIM_INTERCOMS,
    barriers: ["bar-a"],
  });
  issuer = await startDevIssuer({
    privateJwk: await generateIssuerKey(),
    audience: "propgate-api",
  });
  database = await createTestDatabase();
  if (database.url) {
    databaseEnv = { DATABASE_URL: database.url };
  } else {
    // PGlite allows one process at a time: prepare a data dir, close it, hand it to the api.
    const dataDir = join(dir, "pglite");
    const handle = await openDatabase({ dataDir });
    await migrateDatabase(handle);
    await upsertDevices(handle.db, SEED_DEVICES, { sourceApp: "test", instanceId: "test" });
    await handle.close();
    databaseEnv = { DATA_DIR: dataDir };
  }
  if (database.url)
    await upsertDevices(database.db, SEED_DEVICES, { sourceApp: "test", instanceId: "test" });
});
afterAll(async () => {
  await Promise.all([sim.stop(), issuer.stop()]);
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

function baseEnv(): Record<string, string> {
  writeFileSync(join(dir, "secret"), SECRET, { mode: 0o600 });
  writeFileSync(join(dir, "subject-key"), "cd".repeat(32), { mode: 0o600 });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    PROPGATE_ENV: "development",
    HOST: "127.0.0.1",
    PORT: "0",
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: "propgate-api",
    AUTH_JWKS_URL: issuer.jwksUrl.href,
    ...databaseEnv,
  };
  for (const partner of ["INTERCOM", "BARRIER"]) {
    env[`PARTNER_${partner}_BASE_URL`] = sim.url;
    env[`PARTNER_${partner}_ISSUER`] = sim.issuer;
    env[`PARTNER_${partner}_CLIENT_ID`] = "propgate";
    env[`PARTNER_${partner}_CLIENT_SECRET_FILE`] = join(dir, "secret");
    env[`PARTNER_${partner}_SUBJECT_KEY_FILE`] = join(dir, "subject-key");
  }
  return env;
}

/** A partner surface on a free loopback port, its one client `ic-gateway` (secret SECRET). */
function partnerSurfaceEnv(): Record<string, string> {
  const clientsFile = join(dir, "partner-clients.json");
  writeFileSync(
    clientsFile,
    JSON.stringify([
      {
        clientId: "ic-gateway",
        secretHash: Bun.password.hashSync(SECRET, { algorithm: "bcrypt", cost: 4 }),
        partner: "intercom",
        scopes: ["events.write"],
        addresses: ["127.0.0.1"],
      },
    ]),
    { mode: 0o600 },
  );
  return {
    PARTNER_LISTEN: "127.0.0.1:0",
    PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
    PARTNER_CLIENTS_FILE: clientsFile,
  };
}

async function runToExit(env: Record<string, string>) {
  const child = Bun.spawn([process.execPath, MAIN], { env, stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, output: `${stdout}${stderr}` };
}

describe("startup configuration", () => {
  test("a missing variable stops startup with one line naming it", async () => {
    const env = baseEnv();
    delete env.AUTH_ISSUER;
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    expect(output.trim()).toBe("config: AUTH_ISSUER is missing");
  });

  test("a malformed value is named, and no secret is printed", async () => {
    const env = baseEnv();
    delete env.PARTNER_BARRIER_CLIENT_SECRET_FILE;
    delete env.PARTNER_BARRIER_SUBJECT_KEY_FILE;
    env.PARTNER_BARRIER_CLIENT_SECRET = SECRET;
    env.PARTNER_BARRIER_SUBJECT_KEY = `${SECRET}!`;
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      "config: PARTNER_BARRIER_SUBJECT_KEY is invalid: must be a key of at least 32 bytes (hex or base64)",
    );
    expect(output).not.toContain(SECRET);
  });

  /** Production settings that pass the database, identity-provider and audit-key checks. */
  function productionEnv(): Record<string, string> {
    const env: Record<string, string> = { ...baseEnv(), PROPGATE_ENV: "production" };
    delete env.DATA_DIR;
    env.DATABASE_URL = "postgres://propgate@127.0.0.1:1/propgate";
    env.AUTH_JWKS_URL = "https://id.example/.well-known/jwks.json";
    const keyFile = join(dir, "audit-signing-key.pem");
    writeFileSync(keyFile, generateAuditSigningKey(), { mode: 0o600 });
    env.AUDIT_SIGNING_KEY_FILE = keyFile;
    return env;
  }

  /** Production settings with https partners: the partner URL checks pass too. */
  function productionPartnersEnv(): Record<string, string> {
    const env = productionEnv();
    for (const partner of ["INTERCOM", "BARRIER"]) {
      const origin = `https://${partner.toLowerCase()}.partner.example`;
      env[`PARTNER_${partner}_BASE_URL`] = origin;
      env[`PARTNER_${partner}_ISSUER`] = origin;
    }
    return env;
  }

  test("production refuses a partner's client secret or subject key inline, naming it, printing no secret", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        { PARTNER_INTERCOM_CLIENT_SECRET: SECRET },
        "config: PARTNER_INTERCOM_CLIENT_SECRET is refused in production (the environment is not secret): put it in a file and set PARTNER_INTERCOM_CLIENT_SECRET_FILE",
      ],
      [
        { PARTNER_BARRIER_SUBJECT_KEY: "cd".repeat(32) },
        "config: PARTNER_BARRIER_SUBJECT_KEY is refused in production (the environment is not secret): put it in a file and set PARTNER_BARRIER_SUBJECT_KEY_FILE",
      ],
    ];
    for (const [inline, line] of cases) {
      const env = { ...productionPartnersEnv(), ...inline };
      for (const name of Object.keys(inline)) delete env[`${name}_FILE`];
      const { code, output } = await runToExit(env);
      expect({ inline: Object.keys(inline), code, output: output.trim() }).toEqual({
        inline: Object.keys(inline),
        code: 1,
        output: line,
      });
      expect(output).not.toContain(SECRET);
    }
  });

  test("production with DATABASE_PASSWORD_FILE and a password in DATABASE_URL too: one line naming both", async () => {
    writeFileSync(join(dir, "database-password"), "db-password-for-main-test\n", { mode: 0o600 });
    const env = {
      ...productionPartnersEnv(),
      DATABASE_URL: "postgres://propgate:db-password-inline@127.0.0.1:1/propgate",
      DATABASE_PASSWORD_FILE: join(dir, "database-password"),
    };
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      "config: DATABASE_PASSWORD_FILE is set and DATABASE_URL holds a password too: remove the password from DATABASE_URL",
    );
    expect(output).not.toContain("db-password");
  });

  test("production refuses to start without the audit signing key, in one line naming it", async () => {
    const env = productionEnv();
    delete env.AUDIT_SIGNING_KEY_FILE;
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      "config: AUDIT_SIGNING_KEY_FILE is missing: production signs the audit chains' checkpoints (an Ed25519 private key)",
    );
  });

  test("production refuses an identity provider's keys over plain http", async () => {
    const env = { ...productionEnv(), AUTH_JWKS_URL: issuer.jwksUrl.href };
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    expect(output.trim()).toBe("config: AUTH_JWKS_URL is invalid: must be https in production");
  });

  test("production refuses to start on the embedded PGlite", async () => {
    const env = productionEnv();
    delete env.DATABASE_URL;
    env.DATA_DIR = join(dir, "production-pglite");
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      "config: DATABASE_URL is missing: DATA_DIR (embedded PGlite) is for development only",
    );
  });

  test("a database it cannot reach stops startup with one line, no stack and no password", async () => {
    const env: Record<string, string> = {
      ...baseEnv(),
      DATABASE_URL: "postgres://propgate:hunter2secret@127.0.0.1:1/propgate",
    };
    delete env.DATA_DIR;
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    const lines = output.trim().split("\n");
    const failure = lines.at(-1) ?? "";
    expect(failure).toStartWith("api did not start: ");
    expect(failure).toMatch(/ECONNREFUSED|CONNECT|connect/);
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toContain("hunter2secret");
  });

  test("plain-http partner URLs are refused in production", async () => {
    const env = productionEnv();
    const { code, output } = await runToExit(env);
    expect(code).toBe(1);
    expect(output.trim()).toStartWith(
      "config: PARTNER_INTERCOM_BASE_URL is invalid: must be https outside development and test",
    );
  });

  test("a second production instance on the host stops with one line naming METRICS_LISTEN, and the first serves on", async () => {
    if (!database.url) {
      console.log("[skip] two production instances: need PostgreSQL (set DATABASE_URL)");
      if (process.env.CI) throw new Error("CI runs this test against PostgreSQL");
      return;
    }
    // The default METRICS_LISTEN is one fixed port (127.0.0.1:9465): two instances started the
    // same way meet there. The first is given a free port; the second the same one.
    const env = { ...productionPartnersEnv(), DATABASE_URL: database.url, SHUTDOWN_DRAIN_MS: "0" };
    const first = spawnChild([process.execPath, MAIN], { ...env, METRICS_LISTEN: "127.0.0.1:0" });
    try {
      const metricsUrl = new URL(await listeningUrl(first, "metrics listening"));
      const apiUrl = await listeningUrl(first, "api listening");
      const { code, output } = await runToExit({ ...env, METRICS_LISTEN: metricsUrl.host });
      expect(code).toBe(1);
      expect(output.trim().split("\n").at(-1)).toBe(
        `api did not start: METRICS_LISTEN ${metricsUrl.host} is already in use (EADDRINUSE): another process listens there; give each instance on this host its own METRICS_LISTEN`,
      );
      expect(output).not.toMatch(/^\s+at /m);
      expect((await fetch(`${apiUrl}/readyz`)).status).toBe(200);
      expect((await fetch(metricsUrl)).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
  });

  test("a listener it cannot bind stops startup with one line naming its variable", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const taken = `127.0.0.1:${holder.port}`;
    try {
      const cases: Array<[Record<string, string>, string]> = [
        [
          { PORT: String(holder.port) },
          `PORT ${taken} is already in use (EADDRINUSE): another process listens there; give each instance on this host its own PORT`,
        ],
        [
          { METRICS_LISTEN: taken },
          `METRICS_LISTEN ${taken} is already in use (EADDRINUSE): another process listens there; give each instance on this host its own METRICS_LISTEN`,
        ],
        [
          // TEST-NET-1 (RFC 5737): never an address of this host, as a VPN address is while wg0 is down.
          { ...partnerSurfaceEnv(), PARTNER_LISTEN: "192.0.2.1:8443" },
          "PARTNER_LISTEN 192.0.2.1:8443 is not an address of this host (EADDRNOTAVAIL): is its interface (the VPN's) up?",
        ],
      ];
      for (const [settings, line] of cases) {
        const { code, output } = await runToExit({ ...baseEnv(), ...settings });
        expect({ settings, code, line: output.trim().split("\n").at(-1) }).toEqual({
          settings,
          code: 1,
          line: `api did not start: ${line}`,
        });
        expect(output).not.toMatch(/^\s+at /m);
      }
    } finally {
      await holder.stop(true);
    }
  });

  test("PARTNER_LISTEN without its allow-list stops startup naming the missing variable", async () => {
    const { code, output } = await runToExit({ ...baseEnv(), PARTNER_LISTEN: "127.0.0.1:0" });
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      "config: PARTNER_ALLOWED_CIDRS is missing (required with PARTNER_LISTEN)",
    );
  });
});

describe("the request log", () => {
  test("lines are written off the request's path, and none is lost at SIGTERM", async () => {
    const child = spawnChild([process.execPath, MAIN], { ...baseEnv(), LOG_LEVEL: "info" });
    const url = await listeningUrl(child, "api listening");
    const ids = Array.from({ length: 400 }, (_, i) => `log-sigterm-${i}`);
    const answers = await Promise.all(
      ids.map((id) => fetch(`${url}/healthz`, { headers: { "x-request-id": id } })),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    // SIGTERM at once, the lines of those 400 requests perhaps still buffered.
    expect(await child.stop()).toBe(0);
    await child.waitFor(/^\{.*"msg":"stopped".*\}$/);
    const logged = new Set(
      child.lines
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { msg?: string; requestId?: string })
        .filter((line) => line.msg === "request" && line.requestId?.startsWith("log-sigterm-"))
        .map((line) => line.requestId),
    );
    expect(logged.size).toBe(ids.length);
    // The last line is the stop's: nothing written after the flush.
    expect(child.lines.filter(Boolean).at(-1)).toMatch(/"msg":"stopped"/);
  });
});

describe("the partner surface", () => {
  test("with PARTNER_LISTEN the instance also serves the partner surface, and stops it on SIGTERM", async () => {
    const child = spawnChild([process.execPath, MAIN], {
      ...baseEnv(),
      ...partnerSurfaceEnv(),
      PARTNER_LISTEN: "127.0.0.1:0",
    });
    try {
      const url = await listeningUrl(child, "partner surface listening");
      const token = await fetch(`${url}/oauth/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${btoa(`ic-gateway:${SECRET}`)}`,
        },
        body: "grant_type=client_credentials",
        signal: AbortSignal.timeout(5000),
      });
      expect(token.status).toBe(200);
      expect(((await token.json()) as { scope: string }).scope).toBe("events.write");
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});

describe("a configured instance", () => {
  test("listens, is ready, and opens a door end to end", async () => {
    const child = spawnChild([process.execPath, MAIN], baseEnv());
    try {
      const url = await listeningUrl(child, "api listening");
      expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: "ready" });
      const token = await issuer.mint({ sub: "user-main", sites: ["site-a"] });
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const grant = await fetch(`${url}/trpc/consent.grant`, {
        method: "POST",
        headers,
        body: JSON.stringify({ purpose: "intercom", noticeVersion: 1 }),
      });
      expect(grant.status).toBe(200);
      const open = await fetch(`${url}/trpc/intercom.openDoor`, {
        method: "POST",
        headers,
        body: JSON.stringify({ deviceId: "door-a1" }),
      });
      expect(
        ((await open.json()) as { result: { data: { status: string } } }).result.data.status,
      ).toBe("opened");
      expect(sim.recorder.count({ operation: "intercom.open" })).toBe(1);
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});

if (!process.env.DATABASE_URL) {
  console.log(
    "[skip] SIGKILL during a burst: needs PostgreSQL (set DATABASE_URL); a killed PGlite holder is not reopened safely",
  );
}

describe.if(process.env.DATABASE_URL !== undefined)("a crash in the middle of a burst", () => {
  test("after SIGKILL, every request the partner received has its committed attempt row", async () => {
    const child = spawnChild([process.execPath, MAIN], { ...baseEnv(), ...HIGH_RATE_LIMITS });
    const url = await listeningUrl(child, "api listening");
    const userId = "user-crash";
    const token = await issuer.mint({ sub: userId, sites: ["site-a"] });
    const grant = await fetch(`${url}/trpc/consent.grant`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ purpose: "intercom", noticeVersion: 1 }),
    });
    expect(grant.status).toBe(200);
    sim.recorder.clear();
    const burst = Bun.spawn(
      [process.execPath, `${import.meta.dir}/fixtures/open-burst.ts`, url, token, "door-a1", "400"],
      { stdout: "ignore", stderr: "ignore" },
    );
    const received = () => sim.recorder.count({ operation: "intercom.open" });
    const deadline = Date.now() + 20_000;
    while (received() < 25) {
      if (Date.now() > deadline) throw new Error("the burst never reached the partner");
      await Bun.sleep(2);
    }
    child.process.kill("SIGKILL");
    await child.process.exited;
    await burst.exited;
    const sent = received();
    const attempts = await listAuditEvents(database.db, {
      userId,
      kind: "partner.request",
      limit: 500,
    });
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(400); // the kill came mid-burst
    expect(attempts.length).toBeGreaterThanOrEqual(sent);
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true });
  }, 60_000);
});

if (!process.env.DATABASE_URL) {
  console.log(
    "[skip] the audit key over an api's stop and a crash: needs PostgreSQL (set DATABASE_URL); a killed PGlite holder is not reopened safely",
  );
}

describe.if(process.env.DATABASE_URL !== undefined)("the audit key, end to end", () => {
  test("a stopped api's chains end in closing checkpoints; a killed one's read as a crash, told from a cut by its log lines", async () => {
    const fresh = await createTestDatabase();
    const children: Child[] = [];
    try {
      const pem = generateAuditSigningKey();
      const signer = createAuditSigner(pem);
      const keyFile = join(dir, "audit-key-e2e.pem");
      writeFileSync(keyFile, pem, { mode: 0o600 });
      // The devices, registered the way `propgate devices import` does: its chain signed too.
      const seeding = signProcessChain(fresh.db, signer);
      await upsertDevices(fresh.db, SEED_DEVICES, { sourceApp: "test", instanceId: "test" });
      await seeding.release();
      const env = {
        ...baseEnv(),
        DATABASE_URL: fresh.url ?? "",
        AUDIT_SIGNING_KEY_FILE: keyFile,
        AUDIT_CHECKPOINT_SECONDS: "1",
      };
      const openOnce = async (child: Child, userId: string) => {
        const url = await listeningUrl(child, "api listening");
        const token = await issuer.mint({ sub: userId, sites: ["site-a"] });
        const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
        for (const [path, body] of [
          ["consent.grant", { purpose: "intercom", noticeVersion: 1 }],
          ["intercom.openDoor", { deviceId: "door-a1" }],
        ] as const) {
          const answer = await fetch(`${url}/trpc/${path}`, {
            method: "POST",
            headers,
            body: JSON.stringify(body),
          });
          expect(answer.status).toBe(200);
        }
      };
      const stopped = spawnChild([process.execPath, MAIN], env);
      children.push(stopped);
      await openOnce(stopped, "user-audit-stopped");
      expect(await stopped.stop()).toBe(0);
      const killed = spawnChild([process.execPath, MAIN], env);
      children.push(killed);
      await openOnce(killed, "user-audit-killed");
      // Killed once its chains' newest rows are signed and logged: the grant on the process
      // chain, the attempt on the attempts' (w1), the answer on the answers' (w2).
      const chainOf = (line: string) => (JSON.parse(line) as { chainId: string }).chainId;
      const [writerLine] = await killed.waitFor(
        /^\{.*"chainId":"[^"]*\/w1\.0","chainSeq":1,"closing":false.*"audit checkpoint".*\}$/,
      );
      const [answersLine] = await killed.waitFor(
        /^\{.*"chainId":"[^"]*\/w2\.0","chainSeq":1,"closing":false.*"audit checkpoint".*\}$/,
      );
      const [processLine] = await killed.waitFor(
        /^\{.*"chainId":"[^"/]*\/\d+\/[a-z0-9]+","chainSeq":1,"closing":false.*"audit checkpoint".*\}$/,
      );
      expect(chainOf(writerLine)).toEndWith("/w1.0");
      expect(chainOf(answersLine)).toEndWith("/w2.0");
      expect(chainOf(processLine)).not.toContain("/w");
      killed.process.kill("SIGKILL");
      await killed.process.exited;

      const now = new Date(Date.now() + 3_600_000);
      const alone = await verifyAuditChain(fresh.db, { publicKey: signer.publicKey, now });
      expect(alone.ok).toBe(false);
      const reason = alone.ok ? "" : alone.reason;
      for (const chainId of [chainOf(writerLine), chainOf(answersLine), chainOf(processLine)])
        expect(reason).toContain(
          `chain ${chainId} ended without a closing checkpoint: a crash or a cut`,
        );
      expect(reason).not.toContain(`/${stopped.pid}/`); // closed at SIGTERM
      const logged = parseCheckpointLog([...stopped.lines, ...killed.lines].join("\n"));
      const told = await verifyAuditChain(fresh.db, { publicKey: signer.publicKey, now, logged });
      expect(told).toMatchObject({ ok: true });
      expect(told.ok ? told.notes : []).toEqual([
        expect.stringContaining(
          `chain ${chainOf(processLine)} ended without a closing checkpoint: a crash`,
        ),
        expect.stringContaining(
          `chain ${chainOf(writerLine)} ended without a closing checkpoint: a crash`,
        ),
        expect.stringContaining(
          `chain ${chainOf(answersLine)} ended without a closing checkpoint: a crash`,
        ),
      ]);
    } finally {
      // A failed wait must not leave an api running on into the next tests.
      for (const child of children)
        if (child.process.exitCode === null) child.process.kill("SIGKILL");
      await fresh.close();
    }
  }, 60_000);
});
