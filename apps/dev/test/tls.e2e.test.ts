import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { AppRouter } from "@propgate/api";
import { ConfigError } from "@propgate/config";
import { generateAuditSigningKey, upsertDevices } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { type PartnerSim, startPartnerSim } from "@propgate/partner-sim";
import { createTestCertificates } from "@propgate/partner-sim/testing";
import { loadApiEnv, type RunningApi, startInstance } from "@propgate/server";
import { createTRPCClient, httpLink } from "@trpc/client";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";
import { SEED_DEVICES, SIM_BARRIERS, SIM_INTERCOMS } from "../src/seed.ts";
import { errorOf } from "../src/testing/harness.ts";
import { spawnChild } from "../src/testing/processes.ts";

/**
 * Invariant 6 (encrypted transport): resident → api over HTTPS, api → partner over HTTPS with
 * client certificates (mTLS) on the token endpoint and the API alike, and every TLS mismatch
 * failing closed before a byte of the request reaches the partner.
 */
const certs = createTestCertificates();
const dir = mkdtempSync(join(tmpdir(), "propgate-tls-test-"));
/** Production signs the audit chains: a key made for this run. */
const auditKeyFile = join(dir, "audit-signing-key.pem");
writeFileSync(auditKeyFile, generateAuditSigningKey(), { mode: 0o600 });
afterAll(() => {
  certs?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const read = (file: string) => readFileSync(file, "utf8");
/** A 0600 file holding `text`, for a `*_FILE` variable. */
function secretFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}
const AUDIENCE = "propgate-api";
const CLIENTS = {
  intercom: { clientId: "propgate-intercom", clientSecret: "intercom-secret-0123456789abcdef" },
  barrier: { clientId: "propgate-barrier", clientSecret: "barrier-secret-0123456789abcdef" },
};

interface TlsApi {
  api: RunningApi;
  logs: Array<Record<string, unknown>>;
  trpc(token: string): ReturnType<typeof createTRPCClient<AppRouter>>;
  stop(): Promise<void>;
}

describe.skipIf(certs === null)("HTTPS with mTLS end to end", () => {
  let sims: { intercom: PartnerSim; barrier: PartnerSim };
  let issuer: DevIssuer;
  let database: TestDatabase;
  const running: TlsApi[] = [];

  beforeAll(async () => {
    if (!certs) return;
    const tls = {
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      caFile: certs.caFile,
      requireClientCert: true,
    };
    sims = {
      intercom: await startPartnerSim({
        name: "intercom",
        clients: [{ ...CLIENTS.intercom, scopes: ["intercom.open", "health.read"] }],
        intercoms: SIM_INTERCOMS,
        tls,
      }),
      barrier: await startPartnerSim({
        name: "barrier",
        clients: [{ ...CLIENTS.barrier, scopes: ["barrier.open", "health.read"] }],
        barriers: SIM_BARRIERS,
        tls,
      }),
    };
    // Production takes the identity provider's keys over https only (here under the test CA).
    issuer = await startDevIssuer({
      privateJwk: await generateIssuerKey(),
      audience: AUDIENCE,
      tls: { cert: read(certs.serverCertFile), key: read(certs.serverKeyFile) },
    });
    database = await createTestDatabase();
    await upsertDevices(database.db, SEED_DEVICES, { sourceApp: "test", instanceId: "test" });
  });

  afterAll(async () => {
    await Promise.all(running.map((instance) => instance.stop()));
    await Promise.all([sims?.intercom.stop(), sims?.barrier.stop(), issuer?.stop()]);
    await database?.close();
  });

  /** Production settings: https partners, our CA, our client certificate, and an HTTPS api. */
  function productionEnv(): Record<string, string> {
    if (!certs) throw new Error("no certificates");
    const env: Record<string, string> = {
      PROPGATE_ENV: "production",
      // Several production instances run side by side here: each its own metrics port.
      METRICS_LISTEN: "127.0.0.1:0",
      // The test hands startInstance its own database; this only satisfies the production check.
      DATABASE_URL: database.url ?? "postgres://unused@127.0.0.1:1/unused",
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: issuer.jwksUrl.href,
      AUTH_JWKS_CA_FILE: certs.caFile,
      TLS_CERT_FILE: certs.serverCertFile,
      TLS_KEY_FILE: certs.serverKeyFile,
      AUDIT_SIGNING_KEY_FILE: auditKeyFile,
    };
    for (const [name, sim] of [
      ["INTERCOM", sims.intercom],
      ["BARRIER", sims.barrier],
    ] as const) {
      const client = name === "INTERCOM" ? CLIENTS.intercom : CLIENTS.barrier;
      env[`PARTNER_${name}_BASE_URL`] = sim.url;
      env[`PARTNER_${name}_ISSUER`] = sim.issuer;
      env[`PARTNER_${name}_CLIENT_ID`] = client.clientId;
      // Production takes partner secrets from files only.
      env[`PARTNER_${name}_CLIENT_SECRET_FILE`] = secretFile(`${name}-secret`, client.clientSecret);
      env[`PARTNER_${name}_SUBJECT_KEY_FILE`] = secretFile(`${name}-subject-key`, "ab".repeat(32));
      env[`PARTNER_${name}_CA_FILE`] = certs.caFile;
      env[`PARTNER_${name}_CLIENT_CERT_FILE`] = certs.clientCertFile;
      env[`PARTNER_${name}_CLIENT_KEY_FILE`] = certs.clientKeyFile;
      env[`PARTNER_${name}_TIMEOUT_MS`] = "3000";
    }
    return env;
  }

  async function startApi(env: Record<string, string>): Promise<TlsApi> {
    if (!certs) throw new Error("no certificates");
    const apiEnv = loadApiEnv(env);
    const logs: Array<Record<string, unknown>> = [];
    const logDestination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
        done();
      },
    });
    const started = await startInstance(
      { ...apiEnv, HOST: "127.0.0.1", PORT: 0 },
      { database, logDestination, tuning: { maxAttempts: 1, tokenBackoffInitialMs: 50 } },
    );
    const { api } = started;
    const ca = read(certs.caFile);
    const instance: TlsApi = {
      api,
      logs,
      trpc: (token) =>
        createTRPCClient<AppRouter>({
          links: [
            httpLink({
              url: `${api.url}/trpc`,
              headers: { authorization: `Bearer ${token}` },
              // The resident's app trusts the api's CA (the test CA here).
              fetch: (input, init) => fetch(input, { ...init, tls: { ca } }),
            }),
          ],
        }),
      stop: () => started.stop(),
    };
    running.push(instance);
    return instance;
  }

  async function residentOf(instance: TlsApi, sub: string) {
    const trpc = instance.trpc(await issuer.mint({ sub, sites: ["site-a"] }));
    const consents = await trpc.consent.list.query();
    for (const purpose of ["intercom", "barrier"] as const) {
      const notice = consents.find((consent) => consent.purpose === purpose);
      if (!notice) throw new Error(`no notice for ${purpose}`);
      await trpc.consent.grant.mutate({ purpose, noticeVersion: notice.currentNoticeVersion });
    }
    return trpc;
  }

  test("a door and a gate open over mTLS: token endpoint and API both saw our client certificate", async () => {
    const instance = await startApi(productionEnv());
    expect(instance.api.url).toStartWith("https://127.0.0.1:");
    const resident = await residentOf(instance, "user-tls");

    const door = await resident.intercom.openDoor.mutate({ deviceId: "door-a1" });
    expect(door.status).toBe("opened");
    const gate = await resident.barrier.open.mutate({ deviceId: "gate-a" });
    expect(gate.status).toBe("opened");

    for (const sim of [sims.intercom, sims.barrier]) {
      const records = sim.recorder.all();
      expect(records.map((record) => record.operation)).toEqual([
        "metadata",
        "token",
        sim === sims.intercom ? "intercom.open" : "barrier.open",
      ]);
      // The sim's API listener admits only connections whose client certificate its CA signed.
      expect(records.every((record) => record.tls === "mutual" && record.status === 200)).toBe(
        true,
      );
    }
    expect(sims.intercom.recorder.opens()).toHaveLength(1);
    expect(sims.barrier.recorder.opens()).toHaveLength(1);
  });

  describe("fails closed", () => {
    async function expectRefusedWithoutContact(env: Record<string, string>, sub: string) {
      const instance = await startApi(env);
      const resident = await residentOf(instance, sub);
      const seen = sims.intercom.recorder.count();
      const error = await errorOf(resident.intercom.openDoor.mutate({ deviceId: "door-a1" }));
      expect(error).toMatchObject({ httpStatus: 503, cause: "PARTNER_UNAVAILABLE" });
      // The handshake failed: not even the metadata or token request reached the partner.
      expect(sims.intercom.recorder.count()).toBe(seen);
      expect(instance.logs.some((line) => line.msg === "partner token request failed")).toBeTrue();
    }

    test("the partner's certificate is checked against our CA: a wrong CA → PARTNER_UNAVAILABLE", async () => {
      if (!certs) return;
      await expectRefusedWithoutContact(
        { ...productionEnv(), PARTNER_INTERCOM_CA_FILE: certs.otherCaFile },
        "user-wrong-ca",
      );
    });

    test("no CA configured: the system store does not trust the partner's CA → PARTNER_UNAVAILABLE", async () => {
      const env = productionEnv();
      delete env.PARTNER_INTERCOM_CA_FILE;
      await expectRefusedWithoutContact(env, "user-no-ca");
    });

    test("no client certificate against a partner that requires one → PARTNER_UNAVAILABLE", async () => {
      const env = productionEnv();
      delete env.PARTNER_INTERCOM_CLIENT_CERT_FILE;
      delete env.PARTNER_INTERCOM_CLIENT_KEY_FILE;
      await expectRefusedWithoutContact(env, "user-no-client-cert");
    });

    test("a client certificate the partner's CA did not sign → PARTNER_UNAVAILABLE", async () => {
      if (!certs) return;
      await expectRefusedWithoutContact(
        {
          ...productionEnv(),
          PARTNER_INTERCOM_CLIENT_CERT_FILE: certs.otherClientCertFile,
          PARTNER_INTERCOM_CLIENT_KEY_FILE: certs.otherClientKeyFile,
        },
        "user-stranger-cert",
      );
    });

    test("a plain-http partner URL is a config error in production", () => {
      const env = {
        ...productionEnv(),
        PARTNER_INTERCOM_BASE_URL: sims.intercom.url.replace("https:", "http:"),
      };
      expect(() => loadApiEnv(env)).toThrow(
        "config: PARTNER_INTERCOM_BASE_URL is invalid: must be https outside development and test",
      );
    });
  });

  describe("the api over HTTPS", () => {
    test("a client trusting the CA reaches /healthz; one that does not is refused", async () => {
      if (!certs) return;
      const { api } = await startApi(productionEnv());
      const healthy = await fetch(`${api.url}/healthz`, { tls: { ca: read(certs.caFile) } });
      expect(healthy.status).toBe(200);
      await expect(fetch(`${api.url}/healthz`)).rejects.toThrow();
      await expect(
        fetch(`${api.url}/healthz`, { tls: { ca: read(certs.otherCaFile) } }),
      ).rejects.toThrow();
    });

    test("TLS 1.2 and 1.3 are served, TLS 1.1 and 1.0 refused by the server", async () => {
      if (!certs) return;
      const { api } = await startApi(productionEnv());
      const port = new URL(api.url).port;
      // Asynchronous: the api answering the handshake runs in this very process.
      const handshake = async (version: string) => {
        // SECLEVEL=0 lets openssl offer the old protocols, so a refusal is the server's.
        const child = Bun.spawn(
          [
            "openssl",
            "s_client",
            "-connect",
            `127.0.0.1:${port}`,
            `-${version}`,
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-CAfile",
            certs.caFile,
            "-brief",
          ],
          { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
        );
        const [code, stdout, stderr] = await Promise.all([
          child.exited,
          new Response(child.stdout).text(),
          new Response(child.stderr).text(),
        ]);
        return { code, output: `${stdout}${stderr}` };
      };
      for (const version of ["tls1_2", "tls1_3"]) {
        const { code, output } = await handshake(version);
        expect(code).toBe(0);
        expect(output).toContain("Verification: OK");
      }
      for (const version of ["tls1_1", "tls1"]) {
        const { code, output } = await handshake(version);
        expect(code).not.toBe(0);
        if (/no protocols available/i.test(output)) {
          console.log(`[tls] this openssl cannot offer ${version}; only its refusal was checked`);
          continue;
        }
        // The server answered the ClientHello with a protocol_version alert (70).
        expect(output).toMatch(/alert protocol version/i);
      }
    });

    test("main.ts serves HTTPS and says so at startup", async () => {
      if (!certs) return;
      // Production needs PostgreSQL; without one here, the same settings as `test` on PGlite.
      const child = spawnChild([process.execPath, `${import.meta.dir}/../../api/src/main.ts`], {
        ...productionEnv(),
        PATH: process.env.PATH ?? "",
        ...(database.url
          ? { DATABASE_URL: database.url }
          : { PROPGATE_ENV: "test", DATA_DIR: join(dir, "main-pglite"), DATABASE_URL: "" }),
        PORT: "0",
      });
      try {
        const match = await child.waitFor(/^\{.*"msg":"api listening".*\}$/);
        const line = JSON.parse(match[0]) as { url: string; tls: boolean };
        expect(line.tls).toBeTrue();
        expect(line.url).toStartWith("https://127.0.0.1:");
        const healthy = await fetch(`${line.url}/healthz`, { tls: { ca: read(certs.caFile) } });
        expect(healthy.status).toBe(200);
        expect(child.lines.join("\n")).not.toContain("api serves plain http");
      } finally {
        expect(await child.stop()).toBe(0);
      }
    });
  });
});

describe("TLS_CERT_FILE and TLS_KEY_FILE", () => {
  const base = {
    PROPGATE_ENV: "test",
    AUTH_ISSUER: "https://id.example",
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: "https://id.example/jwks",
    ...Object.fromEntries(
      ["INTERCOM", "BARRIER"].flatMap((name) => [
        [`PARTNER_${name}_BASE_URL`, "https://partner.example"],
        [`PARTNER_${name}_TOKEN_URL`, "https://partner.example/oauth/token"],
        [`PARTNER_${name}_CLIENT_ID`, "propgate"],
        [`PARTNER_${name}_CLIENT_SECRET`, "secret"],
        [`PARTNER_${name}_SUBJECT_KEY`, "ab".repeat(32)],
      ]),
    ),
  };

  function configError(env: Record<string, string>): string {
    try {
      loadApiEnv({ ...base, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error("expected a ConfigError");
  }

  test("neither: plain http", () => {
    expect(loadApiEnv(base).tls).toBeNull();
  });

  test("one without the other stops startup naming the missing one", () => {
    expect(configError({ TLS_CERT_FILE: join(dir, "cert.pem") })).toBe(
      "config: TLS_KEY_FILE is missing (TLS_CERT_FILE is set; TLS needs both)",
    );
    expect(configError({ TLS_KEY_FILE: join(dir, "key.pem") })).toBe(
      "config: TLS_CERT_FILE is missing (TLS_KEY_FILE is set; TLS needs both)",
    );
    expect(
      configError({ TLS_CERT_FILE: join(dir, "absent.pem"), TLS_KEY_FILE: join(dir, "absent") }),
    ).toBe("config: TLS_CERT_FILE points at a file that cannot be read");
  });
});
