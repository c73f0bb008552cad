import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  generateAuditSigningKey,
  listAllDevices,
  listAuditEvents,
  openDatabase,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { sql } from "drizzle-orm";
import { runCli } from "./run-cli.ts";

/** `bun run propgate devices import <file.json>`, the operator CLI. */
const dir = mkdtempSync(join(tmpdir(), "propgate-cli-"));
let database: TestDatabase | null = null;
let env: Record<string, string>;

beforeAll(async () => {
  const candidate = await createTestDatabase();
  if (candidate.url) {
    database = candidate;
    env = { DATABASE_URL: candidate.url };
  } else {
    await candidate.close(); // PGlite: the CLI opens (and migrates) its own data dir
    env = { DATA_DIR: join(dir, "data") };
  }
});
afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return cliWith({}, args);
}

function cliWith(extraEnv: Record<string, string>, args: string[]) {
  return runCli(args, { env: { ...env, ...extraEnv } });
}

async function withDb<T>(use: (db: TestDatabase["db"]) => Promise<T>): Promise<T> {
  if (database) return use(database.db);
  const handle = await openDatabase({ dataDir: join(env.DATA_DIR ?? "", "pglite") });
  try {
    return await use(handle.db);
  } finally {
    await handle.close();
  }
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

describe("propgate devices import", () => {
  test("registers the devices and audits who did it", async () => {
    const file = join(dir, "devices.json");
    writeFileSync(file, JSON.stringify(devices));
    const { code, stdout } = await cli(["devices", "import", file]);
    expect(code).toBe(0);
    expect(stdout).toContain("2 device(s) registered");
    await withDb(async (db) => {
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
    expect((await cli(["devices", "import", file])).code).toBe(0);
    await withDb(async (db) => {
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
    const { code, stderr } = await cli(["devices", "import", file]);
    expect(code).toBe(1);
    expect(stderr).toContain("record 1.kind");
    await withDb(async (db) => {
      expect((await listAllDevices(db)).some((device) => device.id === "door-y1")).toBe(false);
    });
  });

  test("an unreadable file and a bad command are clear errors", async () => {
    const missing = await cli(["devices", "import", join(dir, "absent.json")]);
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
    expect((await cli(["devices", "import", file])).code).toBe(0);
    const intact = await cli(["audit", "verify"]);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(
      /^audit verify: intact, \d+ row\(s\), 0 checkpoint\(s\), signatures not checked \(set AUDIT_VERIFY_KEY_FILE\), in [\d.]+ s\n$/,
    );
    const keyFile = join(dir, "audit-verify.pem");
    writeFileSync(keyFile, generateAuditSigningKey());
    const withKey = await cliWith({ AUDIT_VERIFY_KEY_FILE: keyFile }, ["audit", "verify"]);
    expect(withKey.code).toBe(0);
    expect(withKey.stdout).toContain("signatures checked");
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

    const edited = await withDb(async (db) => {
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
