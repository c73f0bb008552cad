import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databasePassword } from "@propgate/config";
import {
  checkReadiness,
  type DatabaseHandle,
  generateAuditSigningKey,
  loadPartnerHealth,
  migrateDatabase,
  openDatabase,
} from "@propgate/consent-audit";
import { loadProbeEnv, startHealthProbe } from "@propgate/health-probe";
import { sql } from "drizzle-orm";
import {
  freePort,
  startThrowawayPostgres,
  type ThrowawayPostgres,
  throwawayPostgresUnavailable,
} from "../drill/throwaway-postgres.ts";
import { runToExit, spawnChild } from "../src/testing/processes.ts";
import { API_MAIN, MIGRATE, productionApiEnv, refusal } from "./database-login.ts";

/**
 * DATABASE_PASSWORD_FILE: every process that opens the database (the api, `migrate`, the
 * operator CLI, the health probe) logs in with the password from the file. The machine's
 * PostgreSQL trusts 127.0.0.1, where a wrong password would connect too; so a throwaway server
 * of the test's own asks for SCRAM passwords, and a wrong file is refused.
 */
const CLI = `${import.meta.dir}/../../cli/src/main.ts`;

// Each test starts processes (the api, migrate, the CLI) on a machine shared with other runs.
setDefaultTimeout(30_000);

const missing = throwawayPostgresUnavailable();
if (missing && process.env.CI)
  throw new Error(`the database password tests must run in CI: ${missing}`);
if (missing) console.warn(`[skip] DATABASE_PASSWORD_FILE: ${missing}`);

const ROLE = "propgate_pw";
// Characters a URL would need escaped: the file takes the password as it is.
const PASSWORD = `p@ss:w/rd#${crypto.randomUUID()}`;
const WRONG = `wrong-${crypto.randomUUID()}`;
const dir = mkdtempSync(join(tmpdir(), "propgate-db-password-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

describe.skipIf(missing !== null)(
  "DATABASE_PASSWORD_FILE on a server that checks passwords",
  () => {
    let pg: ThrowawayPostgres;
    /** The role's URL: no password in it. */
    let url: string;
    let rightFile: string;
    let wrongFile: string;

    /** Whether `password` logs the role in, through openDatabase as the api opens it. */
    async function currentUser(password: string | undefined): Promise<string> {
      const handle = await openDatabase({ url, password, max: 1 });
      try {
        const rows = (await handle.db.execute(
          sql`select current_user as who`,
        )) as unknown as Array<{
          who: string;
        }>;
        return rows[0]?.who ?? "";
      } finally {
        await handle.close();
      }
    }

    beforeAll(async () => {
      pg = await startThrowawayPostgres();
      const port = new URL(pg.url).port;
      url = `postgres://${ROLE}@127.0.0.1:${port}/${ROLE}`;
      rightFile = file("right", `${PASSWORD}\n`);
      wrongFile = file("wrong", `${WRONG}\n`);
      const admin = await openDatabase({ url: pg.url, max: 1 });
      try {
        const quoted = PASSWORD.replaceAll("'", "''");
        await admin.db.execute(sql.raw(`create role ${ROLE} login password '${quoted}'`));
        await admin.db.execute(sql.raw(`create database ${ROLE} owner ${ROLE}`));
        // The superuser keeps trust (the helper stops the server with it); everyone else: SCRAM.
        const hba = (await admin.db.execute(sql`show hba_file`)) as unknown as Array<{
          hba_file: string;
        }>;
        writeFileSync(
          hba[0]?.hba_file ?? "",
          [
            "local all all trust",
            "host all postgres 127.0.0.1/32 trust",
            "host all all 127.0.0.1/32 scram-sha-256",
            "",
          ].join("\n"),
        );
        await admin.db.execute(sql`select pg_reload_conf()`);
      } finally {
        await admin.close();
      }
      // The reload is asynchronous: wait until a login without the password is refused.
      const deadline = Date.now() + 10_000;
      while ((await refusal(currentUser(undefined)).catch(() => null)) === null) {
        if (Date.now() > deadline) throw new Error("the server never started asking for passwords");
        await Bun.sleep(50);
      }
    });

    afterAll(async () => {
      await pg?.destroy();
    });

    test("openDatabase logs in with the file's password; a wrong one or none is refused (28P01)", async () => {
      const password = databasePassword({ DATABASE_URL: url, DATABASE_PASSWORD_FILE: rightFile });
      expect(password).toBe(PASSWORD);
      expect(await currentUser(password)).toBe(ROLE);
      const wrong = databasePassword({ DATABASE_URL: url, DATABASE_PASSWORD_FILE: wrongFile });
      expect((await refusal(currentUser(wrong))).code).toBe("28P01");
      expect((await refusal(currentUser(undefined))).code).toBe("28P01");
      // migrateDatabase opens a connection of its own: it gets the password too.
      const handle: DatabaseHandle = await openDatabase({ url, password, max: 1 });
      try {
        await migrateDatabase(handle);
        expect(await checkReadiness(handle)).toEqual({ ok: true });
      } finally {
        await handle.close();
      }
    });

    test("`migrate` connects with the file; with a wrong file it fails in one line, printing no password", async () => {
      const migrate = (passwordFile: string) =>
        runToExit([process.execPath, MIGRATE], {
          PATH: process.env.PATH ?? "",
          DATABASE_URL: url,
          DATABASE_PASSWORD_FILE: passwordFile,
        });
      const where = `PostgreSQL 127.0.0.1:${new URL(pg.url).port}/${ROLE}`;
      expect(await migrate(rightFile)).toEqual({
        code: 0,
        output: `migrate: ${where} already up to date`,
      });
      const wrong = await migrate(wrongFile);
      expect(wrong.code).toBe(1);
      expect(wrong.output).toStartWith(`migrate: failed on ${where}: `);
      expect(wrong.output).toContain("password authentication failed");
      expect(wrong.output).not.toContain(WRONG);
      expect(wrong.output.split("\n")).toHaveLength(1);
    });

    const PROXY_WARNING = /"level":"warn".*"msg":"TRUST_PROXY_CIDRS is unset/;
    const INLINE_WARNING =
      /"msg":"DATABASE_URL holds the database password.*DATABASE_PASSWORD_FILE"/;

    test("the api in production starts and is ready with the file, warns of nothing; with a wrong file it does not start", async () => {
      const api = spawnChild(
        [process.execPath, API_MAIN],
        productionApiEnv(dir, { DATABASE_URL: url, DATABASE_PASSWORD_FILE: rightFile }),
      );
      try {
        const [line] = await api.waitFor(/^\{.*"api listening".*\}$/);
        const listening = JSON.parse(line) as { url: string; database: string };
        expect(listening.database).toBe("postgres");
        const ready = await fetch(`${listening.url}/readyz`);
        expect({ status: ready.status, body: await ready.json() }).toEqual({
          status: 200,
          body: { status: "ready" },
        });
        expect(api.lines.filter((logLine) => INLINE_WARNING.test(logLine))).toEqual([]);
        // Production says once that, without TRUST_PROXY_CIDRS, address rules see the balancer.
        expect(api.lines.filter((logLine) => PROXY_WARNING.test(logLine))).toHaveLength(1);
      } finally {
        expect(await api.stop()).toBe(0);
      }
      expect(api.lines.join("\n")).not.toContain(PASSWORD);

      const refused = await runToExit(
        [process.execPath, API_MAIN],
        productionApiEnv(dir, { DATABASE_URL: url, DATABASE_PASSWORD_FILE: wrongFile }),
      );
      expect(refused.code).toBe(1);
      expect(refused.output.split("\n").at(-1)).toStartWith("api did not start: ");
      expect(refused.output).toContain("password authentication failed");
      expect(refused.output).not.toContain(WRONG);
      expect(refused.output).not.toContain("api listening");
    });

    test("a password inline in DATABASE_URL still works in production, with one warning naming DATABASE_PASSWORD_FILE", async () => {
      const inline = new URL(url);
      inline.password = encodeURIComponent(PASSWORD);
      const api = spawnChild(
        [process.execPath, API_MAIN],
        productionApiEnv(dir, { DATABASE_URL: inline.href, TRUST_PROXY_CIDRS: "10.0.0.0/24" }),
      );
      try {
        const [line] = await api.waitFor(/^\{.*"api listening".*\}$/);
        const ready = await fetch(`${(JSON.parse(line) as { url: string }).url}/readyz`);
        expect(ready.status).toBe(200);
        const warnings = api.lines.filter((logLine) => INLINE_WARNING.test(logLine));
        expect(warnings).toHaveLength(1);
        expect(JSON.parse(warnings[0] ?? "{}")).toMatchObject({ level: "warn" });
        expect(warnings[0]).not.toContain(PASSWORD);
        expect(api.lines.filter((logLine) => PROXY_WARNING.test(logLine))).toEqual([]);
      } finally {
        expect(await api.stop()).toBe(0);
      }
    });

    test("the operator CLI connects with the file; a wrong file fails", async () => {
      const devices = file(
        "devices.json",
        JSON.stringify([
          {
            id: "door-pw-1",
            kind: "door",
            siteId: "site-pw",
            partner: "intercom",
            partnerDeviceId: "ic-pw-1",
            name: "Door",
          },
        ]),
      );
      // The CLI runs as production: its audit rows are signed with the api's key.
      const signingKey = file("cli-audit-signing-key.pem", generateAuditSigningKey());
      const cli = (passwordFile: string) =>
        runToExit([process.execPath, CLI, "devices", "import", devices], {
          PATH: process.env.PATH ?? "",
          DATABASE_URL: url,
          DATABASE_PASSWORD_FILE: passwordFile,
          AUDIT_SIGNING_KEY_FILE: signingKey,
        });
      expect(await cli(rightFile)).toEqual({
        code: 0,
        output: "devices import: 1 device(s) registered",
      });
      const wrong = await cli(wrongFile);
      expect(wrong.code).not.toBe(0);
      expect(wrong.output).toContain("password authentication failed");
      expect(wrong.output).not.toContain(WRONG);
    });

    test("the health probe connects with the file: its round's results reach the database", async () => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const probe = await startHealthProbe(
        loadProbeEnv({
          PROPGATE_ENV: "development",
          HOST: "127.0.0.1",
          PORT: "0",
          LOG_LEVEL: "silent",
          DATABASE_URL: url,
          DATABASE_PASSWORD_FILE: rightFile,
          PROBE_INTERVAL_MS: "3600000",
          PROBE_TIMEOUT_MS: "1000",
          PARTNER_INTERCOM_BASE_URL: closed,
          PARTNER_INTERCOM_TOKEN_URL: `${closed}/oauth/token`,
          PARTNER_INTERCOM_CLIENT_ID: "propgate",
          PARTNER_INTERCOM_CLIENT_SECRET_FILE: file("probe-secret", "probe-secret"),
          PARTNER_INTERCOM_SUBJECT_KEY_FILE: file("probe-subject-key", "ab".repeat(32)),
        }),
        { vpn: false },
      );
      try {
        await probe.loop.round();
      } finally {
        await probe.stop();
      }
      const reader = await openDatabase({ url, password: PASSWORD, max: 1 });
      try {
        const saved = await loadPartnerHealth(reader.db);
        expect(saved.map((status) => [status.partner, status.check])).toContainEqual([
          "intercom",
          "token",
        ]);
      } finally {
        await reader.close();
      }
    });
  },
);
