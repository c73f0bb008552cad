import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  type AuditCheckpoint,
  type AuditWriter,
  type AuditWriterOptions,
  CHECKPOINT_LOG_MESSAGE,
  checkpointLogFields,
  checkpointMessage,
  createAuditSigner,
  createAuditWriter,
  type Database,
  generateAuditSigningKey,
  getUnitByPartnerId,
  listAllDevices,
  listAuditEvents,
  parseCheckpointLog,
  redactAuditRows,
} from "@propgate/consent-audit";
import { auditCheckpoints, auditEvents } from "@propgate/consent-audit/schema";
import {
  appendUnsignedRows,
  cutChainAfter,
  deleteClosingCheckpoint,
  writeDoorOpens,
} from "@propgate/consent-audit/testing";
import { createLogger } from "@propgate/observability";
import { desc, eq, sql } from "drizzle-orm";
import { type CliDatabase, createCliDatabase } from "./cli-database.ts";
import { runCli } from "./run-cli.ts";

/** `bun run propgate devices import <file.json>`, the operator CLI. */
const dir = mkdtempSync(join(tmpdir(), "propgate-cli-"));
let database: CliDatabase;
/** The api's signing key, made for this run, and its public half (what an auditor holds). */
const signingKey = join(dir, "audit-signing.pem");
const verifyKey = join(dir, "audit-verify.pem");
const signingPem = generateAuditSigningKey();
const signer = createAuditSigner(signingPem);

beforeAll(async () => {
  writeFileSync(signingKey, signingPem, { mode: 0o600 });
  writeFileSync(verifyKey, signer.publicKey.export({ type: "spki", format: "pem" }).toString());
  database = await createCliDatabase(join(dir, "data"));
});
afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return cliWith({}, args);
}

function cliWith(extraEnv: Record<string, string>, args: string[]) {
  return runCli(args, { env: { ...database.env, ...extraEnv } });
}

/** With the api's signing key, as an operator runs commands that write audit rows. */
function signed(args: string[]) {
  return cliWith({ AUDIT_SIGNING_KEY_FILE: signingKey }, args);
}

const devices = [
  {
    id: "door-x1",
    kind: "door",
    siteId: "site-x",
    partner: "intercom",
    partnerDeviceId: "ic-x1",
    name: "X, entrance 1",
  },
  {
    id: "gate-x",
    kind: "gate",
    siteId: "site-x",
    partner: "barrier",
    partnerDeviceId: "bar-x",
    name: "X, gate",
  },
];

describe("propgate units import", () => {
  test("maps flats, audits who did it, and names a bad record writing nothing", async () => {
    const file = join(dir, "units.json");
    const flats = [
      { id: "unit-x42", partner: "intercom", partnerUnitId: "42", siteId: "site-x" },
      { id: "unit-x43", partner: "intercom", partnerUnitId: "43", siteId: "site-x" },
    ] as const;
    writeFileSync(file, JSON.stringify(flats));
    const { code, stdout } = await signed(["units", "import", file]);
    expect({ code, stdout: stdout.trim() }).toEqual({
      code: 0,
      stdout: "units import: 2 unit(s) mapped",
    });
    await database.withDb(async (db) => {
      expect(await getUnitByPartnerId(db, "intercom", "43")).toEqual(flats[1]);
      const audit = await listAuditEvents(db, { kind: "admin.units.upsert" });
      expect(audit.map((row) => row.target).sort()).toEqual(["unit-x42", "unit-x43"]);
      expect(audit[0]).toMatchObject({
        sourceApp: "cli",
        actor: expect.stringMatching(/^operator:/),
      });
    });
    const bad = join(dir, "units-bad.json");
    writeFileSync(
      bad,
      JSON.stringify([
        { id: "unit-x44", partner: "intercom", partnerUnitId: "44", siteId: "site-x" },
        { id: "unit-x45", partner: "elevator", partnerUnitId: "45", siteId: "site-x" },
      ]),
    );
    const refused = await signed(["units", "import", bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("units import: ");
    expect(refused.stderr).toContain("record 1.partner");
    await database.withDb(async (db) => {
      expect(await getUnitByPartnerId(db, "intercom", "44")).toBeNull();
    });
  });
});

describe("propgate devices import", () => {
  test("registers the devices and audits who did it", async () => {
    const file = join(dir, "devices.json");
    writeFileSync(file, JSON.stringify(devices));
    const { code, stdout } = await signed(["devices", "import", file]);
    expect(code).toBe(0);
    expect(stdout).toContain("2 device(s) registered");
    await database.withDb(async (db) => {
      const stored = await listAllDevices(db);
      expect(stored.map((device) => device.id).sort()).toEqual(["door-x1", "gate-x"]);
      const audit = await listAuditEvents(db, { kind: "admin.devices.upsert" });
      expect(audit[0]).toMatchObject({
        sourceApp: "cli",
        actor: expect.stringMatching(/^operator:/),
      });
    });
    // running it again updates in place
    writeFileSync(file, JSON.stringify([{ ...devices[0], name: "X, main entrance" }]));
    expect((await signed(["devices", "import", file])).code).toBe(0);
    await database.withDb(async (db) => {
      const stored = await listAllDevices(db);
      expect(stored.find((device) => device.id === "door-x1")?.name).toBe("X, main entrance");
      expect(stored).toHaveLength(2);
    });
  });

  test("a bad record is named and nothing is written", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify([
        { ...devices[0], id: "door-y1" },
        { ...devices[1], id: "gate-y", kind: "window" },
      ]),
    );
    const { code, stderr } = await signed(["devices", "import", file]);
    expect(code).toBe(1);
    expect(stderr).toContain("record 1.kind");
    await database.withDb(async (db) => {
      expect((await listAllDevices(db)).some((device) => device.id === "door-y1")).toBe(false);
    });
  });

  test("in production it refuses to write unsigned audit rows, naming the key; elsewhere it warns", async () => {
    const file = join(dir, "unsigned.json");
    writeFileSync(file, JSON.stringify([{ ...devices[0], id: "door-u1" }]));
    const refused = await cli(["devices", "import", file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toStartWith(
      "devices import: AUDIT_SIGNING_KEY_FILE is unset: the audit rows this writes would carry no signed checkpoint",
    );
    await database.withDb(async (db) => {
      expect((await listAllDevices(db)).some((device) => device.id === "door-u1")).toBe(false);
    });
    // Outside production the rows go in unsigned, with the same words as a warning.
    const dev = await scenario();
    await dev.ready();
    const warned = await runCli(["devices", "import", file], {
      env: { ...dev.env, PROPGATE_ENV: "development" },
    });
    expect(warned.code).toBe(0);
    expect(warned.stderr).toStartWith("warning: devices import: AUDIT_SIGNING_KEY_FILE is unset");
    const notAKey = join(dir, "not-a-private-key.pem");
    writeFileSync(notAKey, "hello");
    const bad = await cliWith({ AUDIT_SIGNING_KEY_FILE: notAKey }, ["devices", "import", file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("does not hold an Ed25519 private key");
  });

  test("an unreadable file and a bad command are clear errors", async () => {
    const missing = await signed(["devices", "import", join(dir, "absent.json")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("is not a readable JSON file");
    const unknown = await cli(["devices", "remove"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("propgate devices import <file.json>");
  });
});

describe("propgate audit verify", () => {
  test("an intact log exits 0; an edited row exits 1 naming it; --json for machines", async () => {
    // The device import above wrote audit rows; add one more through the real writer.
    const file = join(dir, "verify.json");
    writeFileSync(
      file,
      JSON.stringify([{ ...devices[0], id: "door-v1", partnerDeviceId: "ic-v1" }]),
    );
    expect((await signed(["devices", "import", file])).code).toBe(0);
    const intact = await cli(["audit", "verify"]);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(
      /^audit verify: intact, \d+ row\(s\), \d+ checkpoint\(s\), signatures not checked \(set AUDIT_VERIFY_KEY_FILE\), in [\d.]+ s\n$/,
    );
    // Each import's chain is signed and closed with the api's key.
    const withKey = await cliWith({ AUDIT_VERIFY_KEY_FILE: verifyKey }, ["audit", "verify"]);
    expect(withKey.code).toBe(0);
    expect(withKey.stdout).toMatch(
      /^audit verify: intact, \d+ row\(s\), [1-9]\d* checkpoint\(s\), signatures checked/,
    );
    const otherKey = join(dir, "another-key.pem");
    writeFileSync(otherKey, generateAuditSigningKey());
    const wrongKey = await cliWith({ AUDIT_VERIFY_KEY_FILE: otherKey }, ["audit", "verify"]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toContain("is not signed by the audit key");
    writeFileSync(join(dir, "not-a-key.pem"), "hello");
    const badKey = await cliWith({ AUDIT_VERIFY_KEY_FILE: join(dir, "not-a-key.pem") }, [
      "audit",
      "verify",
    ]);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain("does not hold an Ed25519 key");
    const asJson = await cli(["audit", "verify", "--json"]);
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: true, count: expect.any(Number) });

    const edited = await database.withDb(async (db) => {
      const [row] = await listAuditEvents(db, { limit: 1 });
      await db.execute(
        sql`update audit_events set target = 'door-forged' where seq = ${row?.seq ?? 0}`,
      );
      return row?.seq;
    });
    const tampered = await cli(["audit", "verify", "--json"]);
    expect(tampered.code).toBe(1);
    expect(JSON.parse(tampered.stdout)).toMatchObject({
      ok: false,
      firstBadSeq: edited,
      reason: "row content does not match its hash",
    });
    const human = await cli(["audit", "verify"]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`TAMPERED at row seq ${edited}`);
    expect((await cli(["audit", "verify", "--yaml"])).code).toBe(2);
  });
});

/**
 * One database per case, written by audit writers in this process as an api instance writes it:
 * PostgreSQL (the CLI gets its URL), or a PGlite folder that `ready()` hands over to the CLI
 * (one process at a time; a writer still running then reads as live, as over PostgreSQL).
 */
interface Scenario {
  db: Database;
  env: Record<string, string>;
  ready(): Promise<void>;
  /** The database again once the CLI has run (`ready` first). */
  withDb<T>(use: (db: Database) => Promise<T>): Promise<T>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function scenario(): Promise<Scenario> {
  const own = await createCliDatabase(mkdtempSync(join(dir, "scenario-")));
  cleanups.push(() => own.close());
  const { db, release } = await own.open();
  cleanups.push(release);
  return { db, env: own.env, ready: release, withDb: own.withDb };
}

/** The api's `audit checkpoint` log lines, through the api's own logger (its scrubber included). */
function logStream() {
  const lines: string[] = [];
  const logger = createLogger({
    name: "api",
    base: { instanceId: "api-cli-test" },
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    }),
  });
  logger.info({ url: "http://127.0.0.1:8080" }, "api listening");
  return {
    onCheckpoint: (checkpoint: AuditCheckpoint) =>
      logger.info(checkpointLogFields(checkpoint), CHECKPOINT_LOG_MESSAGE),
    /** The lines as a log store exports them (here with a collector's timestamp before some). */
    export(file: string) {
      const exported = lines.map((line, i) => (i % 2 ? `2026-05-01T10:00:00.000Z ${line}` : line));
      writeFileSync(file, `${exported.join("\n")}\n`);
      return file;
    },
  };
}

function writerOn(db: Database, options: AuditWriterOptions = {}): AuditWriter {
  const writer = createAuditWriter(db, { signer, ...options });
  cleanups.push(async () => void (await writer.close()));
  return writer;
}

/** Waits out the live window of the chain's newest checkpoint (two heartbeats, as signed). */
async function untilNotLive(db: Database, chainId: string) {
  const [newest] = await db
    .select()
    .from(auditCheckpoints)
    .where(eq(auditCheckpoints.chainId, chainId))
    .orderBy(desc(auditCheckpoints.chainSeq), desc(auditCheckpoints.at))
    .limit(1);
  if (!newest?.heartbeatMs) throw new Error(`chain ${chainId} has no v2 checkpoint`);
  await Bun.sleep(Math.max(0, newest.at.getTime() + 2 * newest.heartbeatMs + 20 - Date.now()));
}

const verifyWithKey = (s: Scenario, ...args: string[]) =>
  runCli(["audit", "verify", ...args], { env: { ...s.env, AUDIT_VERIFY_KEY_FILE: verifyKey } });

/** Quick checkpoints, so a chain's live window (two heartbeats) ends within the test. */
const QUICK = { checkpointEveryMs: 40, heartbeatMs: 40 };

describe("the log stream's copy of a checkpoint", () => {
  test("carries the signed checkpoint whole, past the log scrubber, and reads back exactly", () => {
    const stream = logStream();
    // A host name the scrubber takes for a car plate: the readable field loses it, not the copy.
    const fields = {
      chainId: "api-a123bc77/4242/m1x2/w1.0",
      chainSeq: 7,
      headHash: "ab".repeat(32),
      at: new Date("2026-05-01T10:00:00.000Z"),
      closing: true,
      intervalMs: 10_000,
      heartbeatMs: 60_000,
    };
    const checkpoint: AuditCheckpoint = {
      id: "ckp_test",
      ...fields,
      keyId: signer.keyId,
      signature: signer.sign(checkpointMessage(fields)),
    };
    stream.onCheckpoint(checkpoint);
    const file = stream.export(join(dir, "scrubbed.jsonl"));
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(fields.chainId);
    const { id: _id, ...expected } = checkpoint;
    expect(parseCheckpointLog(text)).toEqual([{ ...expected, line: 2 }]);
    // Lines as an older api wrote them (the v1 fields one by one) still read.
    const v1 = { ...fields, closing: false, intervalMs: null, heartbeatMs: null };
    const older = JSON.stringify({
      msg: CHECKPOINT_LOG_MESSAGE,
      chainId: v1.chainId,
      chainSeq: v1.chainSeq,
      headHash: v1.headHash,
      keyId: signer.keyId,
      signature: "c2lnbmF0dXJl",
      at: v1.at.toISOString(),
    });
    expect(parseCheckpointLog(`${older}\n${older}\n`)).toEqual([
      { ...v1, keyId: signer.keyId, signature: "c2lnbmF0dXJl", line: 1 },
    ]);
    expect(() => parseCheckpointLog("x\nnot json but an audit checkpoint\n")).toThrow(
      "line 2: mentions an audit checkpoint but is not a JSON log line",
    );
  });
});

describe("propgate audit verify: the end of every chain, with the key", () => {
  test("an untouched log exits 0, a live chain between checkpoints and the log stream's copy included", async () => {
    const s = await scenario();
    const stream = logStream();
    const stopped = writerOn(s.db, { onCheckpoint: stream.onCheckpoint });
    await writeDoorOpens(s.db, stopped, 2);
    await stopped.close();
    const live = writerOn(s.db, { onCheckpoint: stream.onCheckpoint });
    const userId = await writeDoorOpens(s.db, live, 2);
    await live.checkpoint();
    await writeDoorOpens(s.db, live, 2, userId); // not signed yet: the chain reads as live
    const exported = stream.export(join(dir, "untouched-log.jsonl"));
    await s.ready();
    const verdict = await verifyWithKey(s);
    expect(verdict.stdout).toMatch(
      /^audit verify: intact, 8 row\(s\), \d+ checkpoint\(s\), signatures checked, in/,
    );
    expect(verdict.code).toBe(0);
    const withStream = await verifyWithKey(s, "--checkpoints", exported);
    expect(withStream.stdout).toMatch(
      /signatures checked, [1-9]\d* checkpoint\(s\) of the log stream held, in/,
    );
    expect(withStream.code).toBe(0);
  });

  test("rows redacted by retention are counted; a redacted row edited exits 1 naming it", async () => {
    const s = await scenario();
    const writer = writerOn(s.db);
    await writeDoorOpens(s.db, writer, 3);
    await writer.close();
    const [newest] = await s.db.select({ at: sql<string>`max(at)::text` }).from(auditEvents);
    let before = Date.now();
    while (before <= new Date(String(newest?.at)).getTime()) before = Date.now();
    const done = await redactAuditRows(s.db, { before: new Date(before), signer });
    expect(done.rows).toBe(4);
    await s.ready();
    const verdict = await verifyWithKey(s);
    expect(verdict.stdout).toMatch(
      /^audit verify: intact, 4 row\(s\) \(4 redacted by retention\), \d+ checkpoint\(s\), signatures checked, in/,
    );
    expect(verdict.code).toBe(0);
    const json = await verifyWithKey(s, "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, count: 4, redacted: 4 });
    await s.withDb((db) =>
      db.execute(sql`update audit_events set result = 'denied' where kind = 'partner.request'`),
    );
    const tampered = await verifyWithKey(s);
    expect(tampered.stdout).toContain("redacted row content does not match its redaction digest");
    expect(tampered.code).toBe(1);
  });

  test("a chain's newest rows cut with the checkpoints past the cut exit 1, naming the chain", async () => {
    const s = await scenario();
    const writer = writerOn(s.db, QUICK);
    const userId = await writeDoorOpens(s.db, writer, 3);
    await writer.checkpoint();
    await writeDoorOpens(s.db, writer, 3, userId);
    await writer.close();
    await cutChainAfter(s.db, writer.chainId, 3);
    await untilNotLive(s.db, writer.chainId);
    await s.ready();
    const { code, stdout } = await verifyWithKey(s);
    expect(stdout).toStartWith(
      `audit verify: TAMPERED: chain ${writer.chainId} ended without a closing checkpoint: a crash or a cut (its newest checkpoint: seq 3,`,
    );
    expect(code).toBe(1);
  });

  test("a forged chain inserted, hashed and linked but never signed, exits 1 naming it", async () => {
    const s = await scenario();
    const writer = writerOn(s.db);
    await writeDoorOpens(s.db, writer, 2);
    await writer.close();
    await appendUnsignedRows(s.db, "forged/1/x/w1.0", 3);
    await s.ready();
    expect((await runCli(["audit", "verify"], { env: s.env })).code).toBe(0); // no key: fooled
    const { code, stdout } = await verifyWithKey(s);
    expect(stdout.trim()).toBe(
      "audit verify: TAMPERED: chain forged/1/x/w1.0 has 3 row(s) and no signed checkpoint: the audit key never signed it (a chain inserted, or written without the key)",
    );
    expect(code).toBe(1);
  });

  test("a stopped chain's closing checkpoint deleted exits 1, naming the chain", async () => {
    const s = await scenario();
    const writer = writerOn(s.db, QUICK);
    await writeDoorOpens(s.db, writer, 3);
    await writer.close();
    await deleteClosingCheckpoint(s.db, writer.chainId);
    await untilNotLive(s.db, writer.chainId);
    await s.ready();
    const { code, stdout } = await verifyWithKey(s);
    expect(stdout).toContain(
      `TAMPERED: chain ${writer.chainId} ended without a closing checkpoint: a crash or a cut`,
    );
    expect(code).toBe(1);
  });

  test("--checkpoints with the log export finds a tail cut that the database alone no longer shows", async () => {
    const s = await scenario();
    const stream = logStream();
    const writer = writerOn(s.db, { onCheckpoint: stream.onCheckpoint });
    const userId = await writeDoorOpens(s.db, writer, 3);
    await writer.checkpoint();
    await writeDoorOpens(s.db, writer, 3, userId);
    await writer.close();
    const exported = stream.export(join(dir, "cut-log.jsonl"));
    // Rows 4-6 and every checkpoint past row 3 gone: what is left reads as a chain still live.
    await cutChainAfter(s.db, writer.chainId, 3);
    await s.ready();
    const alone = await verifyWithKey(s);
    expect(alone.stdout).toStartWith("audit verify: intact");
    expect(alone.code).toBe(0);
    const { code, stdout } = await verifyWithKey(s, "--checkpoints", exported);
    expect(stdout).toMatch(
      new RegExp(
        `^audit verify: TAMPERED: chain ${writer.chainId.replaceAll(".", "\\.")}: the log stream holds its signed closing checkpoint at seq 6 \\(.*, line \\d+\\) that the database lacks, and its rows from seq 4 on: a cut\n$`,
      ),
    );
    expect(code).toBe(1);
  });

  test("--checkpoints needs the key; an unreadable export or a broken checkpoint line is named", async () => {
    const s = await scenario();
    await s.ready();
    const noKey = await runCli(["audit", "verify", "--checkpoints", join(dir, "x")], {
      env: s.env,
    });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("--checkpoints needs the key that checks them");
    const missing = await verifyWithKey(s, "--checkpoints", join(dir, "absent.jsonl"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("absent.jsonl is not a readable file");
    const broken = join(dir, "broken.jsonl");
    writeFileSync(
      broken,
      `{"msg":"api listening"}\n{"msg":"${CHECKPOINT_LOG_MESSAGE}","checkpoint":"7b7d"}\n`,
    );
    const bad = await verifyWithKey(s, "--checkpoints", broken);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("broken.jsonl: line 2: checkpoint field");
    expect((await verifyWithKey(s, "--checkpoints")).code).toBe(2);
  });
});
