import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { retentionEnv } from "@propgate/config";
import {
  auditVerifyKey,
  type Database,
  generateAuditSigningKey,
  lastRetentionRun,
  listAuditEvents,
  openDatabase,
  RETENTION_KINDS,
  recordVpnEvent,
  verifyAuditChain,
  withRetentionLock,
} from "@propgate/consent-audit";
import { anomalies, blocks, vpnEvents } from "@propgate/consent-audit/schema";
import { type CliDatabase, createCliDatabase } from "./cli-database.ts";
import { runCli } from "./run-cli.ts";

/** `propgate retention run`: the daily job, as cron or a CronJob runs it. */
const dir = mkdtempSync(join(tmpdir(), "propgate-cli-retention-"));
let database: CliDatabase;
let env: Record<string, string>;
const signingKey = generateAuditSigningKey();
const keyFile = join(dir, "audit-signing-key.pem");
writeFileSync(keyFile, signingKey, { mode: 0o600 });

/** Every period 0, destruction records at their floor: everything over by now goes. */
const ALL_NOW = Object.fromEntries(
  Object.keys(retentionEnv).map((name) => [name, name === "DESTRUCTION_RECORD_YEARS" ? "1" : "0"]),
);

beforeAll(async () => {
  database = await createCliDatabase(join(dir, "data"));
  env = { ...database.env, AUDIT_SIGNING_KEY_FILE: keyFile, ...ALL_NOW };
});
afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], extra: Record<string, string> = {}) =>
  runCli(args, { env: { ...env, ...extra } });

const HOUR = 3_600_000;

/** An old anomaly, an expired block and one in force, and a VPN event: as the api leaves them. */
async function plant(db: Database, ip: string) {
  const ago = (ms: number) => new Date(Date.now() - ms);
  await db.insert(anomalies).values({
    id: `anm_${ip}`,
    kind: "credential_guessing",
    subjectType: "ip",
    subjectId: ip,
    windowStart: ago(2 * HOUR),
    windowSeconds: 300,
    count: 30,
    threshold: 30,
    firstSeen: ago(2 * HOUR),
    lastSeen: ago(2 * HOUR),
  });
  const block = { subjectType: "ip", subjectId: ip, kind: "credential_guessing", offence: 1 };
  await db.insert(blocks).values([
    { ...block, id: `blk_over_${ip}`, createdAt: ago(2 * HOUR), expiresAt: ago(HOUR) },
    {
      ...block,
      id: `blk_live_${ip}`,
      createdAt: ago(HOUR),
      expiresAt: new Date(Date.now() + HOUR),
    },
  ]);
  await recordVpnEvent(db, {
    at: ago(HOUR),
    iface: "wg0",
    peerFingerprint: "00000000000000a1",
    endpointIp: "192.0.2.9",
    kind: "connected",
    rxBytes: 1,
    txBytes: 1,
  });
}

async function held(db: Database) {
  return {
    anomalies: (await db.select().from(anomalies)).length,
    blocks: (await db.select({ id: blocks.id }).from(blocks)).map((row) => row.id).sort(),
    vpnEvents: (await db.select().from(vpnEvents)).length,
  };
}

describe("propgate retention run", () => {
  test("prunes past the periods, prints counts per kind, writes one retention.run row", async () => {
    await database.withDb((db) => plant(db, "198.51.100.20"));
    const result = await cli(["retention", "run"]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toContain("anomalies 1, blocks 1, vpnEvents 1,");
    for (const kind of RETENTION_KINDS) expect(result.stdout).toContain(`${kind} `);
    expect(result.stdout).toMatch(/audit rows redacted \d+/);
    await database.withDb(async (db) => {
      expect(await held(db)).toEqual({
        anomalies: 0,
        blocks: ["blk_live_198.51.100.20"], // the block in force stays
        vpnEvents: 0,
      });
      const [row] = await listAuditEvents(db, { kind: "retention.run" });
      // No personal data: the job's own name, the run's time as its target.
      expect(row).toMatchObject({
        sourceApp: "cli",
        actor: "system:retention",
        result: "ok",
        userId: null,
        clientIp: null,
        requestId: null,
      });
      expect(Date.parse(String(row?.target))).toBeGreaterThan(Date.now() - 60_000);
      expect((await lastRetentionRun(db))?.toISOString()).toBe(row?.at);
      // Its chain is signed and closed: the log verifies with the key.
      expect(await verifyAuditChain(db, { publicKey: auditVerifyKey(signingKey) })).toMatchObject({
        ok: true,
      });
    });

    const json = await cli(["retention", "run", "--json"]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { pruned: Record<string, number> };
    expect(Object.keys(report.pruned).sort()).toEqual([...RETENTION_KINDS].sort());
    expect(Object.values(report.pruned).every((n) => n === 0)).toBe(true);
  });

  test("periods are read from the environment: a young row outlives a long period", async () => {
    await database.withDb((db) => plant(db, "198.51.100.21"));
    const result = await cli(["retention", "run", "--json"], { ANOMALY_RETENTION_DAYS: "90" });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).pruned).toMatchObject({ anomalies: 0, blocks: 1 });
    await database.withDb(async (db) => expect((await held(db)).anomalies).toBe(1));
    await cli(["retention", "run"]);
  });

  test("refuses without the signing key, with a bad period or bad usage, and changes nothing", async () => {
    await database.withDb((db) => plant(db, "198.51.100.22"));
    const before = await database.withDb(async (db) => ({
      ...(await held(db)),
      runs: (await listAuditEvents(db, { kind: "retention.run" })).length,
    }));
    const { AUDIT_SIGNING_KEY_FILE: _key, ...keyless } = env;
    const unsigned = await runCli(["retention", "run"], { env: keyless });
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain("retention run: AUDIT_SIGNING_KEY_FILE is unset");
    const bad = await cli(["retention", "run"], { BLOCK_RETENTION_DAYS: "-1" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("BLOCK_RETENTION_DAYS");
    const usage = await cli(["retention", "prune"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("propgate retention run");
    const after = await database.withDb(async (db) => ({
      ...(await held(db)),
      runs: (await listAuditEvents(db, { kind: "retention.run" })).length,
    }));
    expect(after).toEqual(before);
    await cli(["retention", "run"]);
  });

  test.if(Boolean(process.env.DATABASE_URL))(
    "a second run while one holds the lock exits 1 saying so, and prunes nothing",
    async () => {
      await database.withDb((db) => plant(db, "198.51.100.23"));
      const before = await database.withDb(held);
      const handle = await openDatabase({ url: database.env.DATABASE_URL, max: 1 });
      try {
        const second = await withRetentionLock(handle, () => cli(["retention", "run"]));
        expect(second.code).toBe(1);
        expect(second.stderr).toContain("another retention run holds the lock");
        expect(await database.withDb(held)).toEqual(before);
      } finally {
        await handle.close();
      }
      expect((await cli(["retention", "run"])).code).toBe(0);
    },
  );
});
