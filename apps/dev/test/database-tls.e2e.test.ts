import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkReadiness, migrateDatabase, openDatabase } from "@propgate/consent-audit";
import {
  createTestCertificates,
  signServerCertificate,
  type TestCertificates,
} from "@propgate/partner-sim/testing";
import { sql } from "drizzle-orm";
import {
  startThrowawayPostgres,
  type ThrowawayPostgres,
  throwawayPostgresUnavailable,
} from "../drill/throwaway-postgres.ts";
import { runToExit, spawnChild } from "../src/testing/processes.ts";
import { API_MAIN, MIGRATE, productionApiEnv, refusal } from "./database-login.ts";

/**
 * Database TLS that authenticates the server (docs/architecture.md, invariant 6): a throwaway
 * PostgreSQL with `ssl = on` and certificates from a CA made now, reached through the real
 * `openDatabase`, the migrate entry and the api's own startup.
 */
const missing =
  throwawayPostgresUnavailable() ??
  (Bun.which("openssl") === null
    ? "openssl is not installed (scripts/install-system-tools.sh installs it)"
    : null);
if (missing && process.env.CI) throw new Error(`the database TLS tests must run in CI: ${missing}`);
if (missing) console.warn(`[skip] database TLS: ${missing}`);

describe.skipIf(missing !== null)("PostgreSQL over TLS", () => {
  let certs: TestCertificates;
  let pg: ThrowawayPostgres;
  let tlsDir: string;
  let ca: string;
  let otherCa: string;
  /** The throwaway server's URL with `?sslmode=…`. */
  const url = (sslmode: string) => `${pg.url}?sslmode=${sslmode}`;

  /** Whether the session openDatabase opens runs over TLS; throws when it cannot connect. */
  async function sessionSsl(sslmode: string, caPem: string | undefined): Promise<boolean> {
    const handle = await openDatabase({ url: url(sslmode), ca: caPem, max: 1 });
    try {
      const rows = (await handle.db.execute(
        sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`,
      )) as unknown as Array<{ ssl: boolean }>;
      return rows[0]?.ssl === true;
    } finally {
      await handle.close();
    }
  }

  /** The server presents this certificate from now on (the key readable by it alone). */
  async function serve(files: { certFile: string; keyFile: string }): Promise<void> {
    const owner = postgresOwner();
    for (const [from, to] of [
      [files.certFile, "server.crt"],
      [files.keyFile, "server.key"],
    ] as const) {
      copyFileSync(from, join(tlsDir, to));
      if (owner) chownSync(join(tlsDir, to), owner.uid, owner.gid);
      chmodSync(join(tlsDir, to), 0o600);
    }
    await pg.stop();
    await pg.start();
  }

  const runMigrate = (caFile: string) =>
    runToExit([process.execPath, MIGRATE], {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: url("verify-full"),
      DATABASE_CA_FILE: caFile,
    });

  beforeAll(async () => {
    const made = createTestCertificates();
    if (!made) throw new Error("openssl went missing");
    certs = made;
    ca = readFileSync(certs.caFile, "utf8");
    otherCa = readFileSync(certs.otherCaFile, "utf8");
    pg = await startThrowawayPostgres();
    tlsDir = mkdtempSync(join(tmpdir(), "propgate-pg-tls-"));
    const owner = postgresOwner();
    if (owner) chownSync(tlsDir, owner.uid, owner.gid);
    // The helper's server speaks plain TCP; TLS on, from files that `serve` replaces.
    const admin = await openDatabase({ url: pg.url, max: 1 });
    try {
      await admin.db.execute(
        sql.raw(`alter system set ssl_cert_file = '${join(tlsDir, "server.crt")}'`),
      );
      await admin.db.execute(
        sql.raw(`alter system set ssl_key_file = '${join(tlsDir, "server.key")}'`),
      );
      await admin.db.execute(sql.raw("alter system set ssl = on"));
    } finally {
      await admin.close();
    }
    // A certificate for IP:127.0.0.1 only: verify-full must match the URL's IP, not a name.
    await serve(signServerCertificate(certs, "db-ip", "IP:127.0.0.1"));
  });

  afterAll(async () => {
    await pg?.destroy();
    certs?.remove();
    if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
  });

  test("verify-full with DATABASE_CA_FILE the server's CA: connected over TLS, migrations applied", async () => {
    expect(await sessionSsl("verify-full", ca)).toBe(true);
    // migrateDatabase opens a client of its own: it gets the CA too.
    const handle = await openDatabase({ url: url("verify-full"), ca, max: 1 });
    try {
      await migrateDatabase(handle);
      expect(await checkReadiness(handle)).toEqual({ ok: true });
    } finally {
      await handle.close();
    }
    const migrate = await runMigrate(certs.caFile);
    expect(migrate).toEqual({
      code: 0,
      output: `migrate: PostgreSQL 127.0.0.1:${new URL(pg.url).port}/postgres already up to date`,
    });
  });

  test("verify-full with another CA, or the system's: refused", async () => {
    expect(await refusal(sessionSsl("verify-full", otherCa))).toMatchObject({
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
    expect(await refusal(sessionSsl("verify-full", undefined))).toMatchObject({
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
    const migrate = await runMigrate(certs.otherCaFile);
    expect(migrate.code).toBe(1);
    expect(migrate.output).toContain("migrate: failed on PostgreSQL 127.0.0.1:");
    expect(migrate.output).toContain("unable to verify the first certificate");
  });

  test("sslmode=require with another CA connects: encrypted, the server NOT authenticated", async () => {
    // The hole verify-full closes, and why `propgate security-check` flags require.
    expect(await sessionSsl("require", otherCa)).toBe(true);
  });

  test("the api starts on verify-full with the right CA, and refuses to with another", async () => {
    const env = (caFile: string) =>
      productionApiEnv(tlsDir, { DATABASE_URL: url("verify-full"), DATABASE_CA_FILE: caFile });
    const good = spawnChild([process.execPath, API_MAIN], env(certs.caFile));
    try {
      const [line] = await good.waitFor(/^\{.*"api listening".*\}$/);
      expect(JSON.parse(line)).toMatchObject({ database: "postgres" });
    } finally {
      await good.stop();
    }
    const bad = await runToExit([process.execPath, API_MAIN], env(certs.otherCaFile));
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain("unable to verify the first certificate");
    expect(bad.output).not.toContain("api listening");
  });

  test("a certificate for another host: verify-full via 127.0.0.1 refused, verify-ca connects", async () => {
    await serve(signServerCertificate(certs, "db-other-host", "DNS:db.other.example"));
    expect(await refusal(sessionSsl("verify-full", ca))).toMatchObject({
      code: "ERR_TLS_CERT_ALTNAME_INVALID",
    });
    expect(await sessionSsl("verify-ca", ca)).toBe(true);
    expect(await refusal(sessionSsl("verify-ca", otherCa))).toMatchObject({
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
  });

  test("an IP host is checked against the certificate's IP names: DNS:localhost does not pass", async () => {
    await serve(signServerCertificate(certs, "db-localhost", "DNS:localhost"));
    const refused = await refusal(sessionSsl("verify-full", ca));
    expect(refused.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(refused.message).toContain("IP: 127.0.0.1 is not in the cert's list");
  });
});

/** As root the server runs as `postgres`, which must own its key; otherwise we run it. */
function postgresOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((line) => line.startsWith("postgres:"));
  const [, , uid, gid] = entry?.split(":") ?? [];
  return { uid: Number(uid), gid: Number(gid) };
}
