import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { AppRouter } from "@propgate/api";
import { type DatabaseHandle, openDatabase } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { subjectFor } from "@propgate/partner-client";
import { createTRPCClient, httpLink } from "@trpc/client";
import { sql } from "drizzle-orm";
import { type EmbeddedStack, startEmbeddedStack } from "../src/embedded.ts";
import { errorOf } from "../src/testing/harness.ts";

/**
 * Canaries (invariant 3, docs/architecture.md): a distinctive plate and a distinctive JPEG go through every
 * flow that touches them; afterwards the whole database, every log line and the data directory
 * are searched — the canaries must be nowhere. Client secrets and access tokens likewise stay
 * out of the database and the logs (the embedded default keeps its generated dev secrets in
 * `<data>/dev-credentials.json` by design, so the data-directory search excludes that one file).
 */
const PLATE_CYRILLIC = "К 913 РМ 199";
const PLATE_LATIN = "K913PM199";
const FACE_MARKER = "CANARY-FACE-51c2e0d7";
const FACE_JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from(FACE_MARKER.padEnd(96, "#")),
  Buffer.from([0xff, 0xd9]),
]);
const FACE_BASE64 = FACE_JPEG.toString("base64");

const dataDir = mkdtempSync(join(tmpdir(), "propgate-canary-"));
let testDatabase: TestDatabase | null = null;
let stack: EmbeddedStack;
const logs: string[] = [];

beforeAll(async () => {
  const logDestination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  if (process.env.DATABASE_URL) testDatabase = await createTestDatabase();
  stack = await startEmbeddedStack({
    dataDir,
    database: testDatabase ?? undefined,
    logDestination,
    logLevel: "trace",
    env: { ERASURE_INTERVAL_MS: "3600000" },
  });
});

afterAll(async () => {
  await stack?.stop();
  await testDatabase?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function dumpDatabase(): Promise<string> {
  if (testDatabase?.url) {
    const dump = Bun.spawn(["pg_dump", "--no-owner", testDatabase.url], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const text = await new Response(dump.stdout).text();
    expect(await dump.exited).toBe(0);
    return text;
  }
  const handle: DatabaseHandle = await openDatabase({ dataDir: join(dataDir, "pglite") });
  try {
    const tables = (await handle.db.execute(
      "select table_schema || '.' || table_name as name from information_schema.tables where table_schema in ('public','drizzle') and table_type = 'BASE TABLE'",
    )) as unknown as { rows: Array<{ name: string }> };
    let text = "";
    for (const { name } of tables.rows) {
      const rows = (await handle.db.execute(
        `select row_to_json(t)::text as row from ${name} t`,
      )) as unknown as { rows: Array<{ row: string }> };
      text += rows.rows.map((row) => row.row).join("\n");
    }
    return text;
  } finally {
    await handle.close();
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("canaries are found nowhere", () => {
  test("plates and face images pass through; the database, the logs and the data directory never hold them", async () => {
    const token = await stack.issuer.mint({ sub: "user-canary", sites: ["site-a"] });
    const resident = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${stack.api.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
      ],
    });
    await resident.consent.grant.mutate({ purpose: "plates", noticeVersion: 1 });
    await resident.consent.grant.mutate({ purpose: "faces", noticeVersion: 1 });

    const plate = await resident.plates.add.mutate({ siteId: "site-a", plate: PLATE_CYRILLIC });
    expect(plate.plate).toBe(PLATE_LATIN);
    expect((await resident.plates.list.query({ siteId: "site-a" })).map((p) => p.plate)).toEqual([
      PLATE_LATIN,
    ]);
    const duplicate = await errorOf(
      resident.plates.add.mutate({ siteId: "site-a", plate: PLATE_LATIN }),
    );
    expect(JSON.stringify(duplicate)).not.toContain(PLATE_LATIN);
    const invalid = await errorOf(
      resident.plates.add.mutate({ siteId: "site-a", plate: `${PLATE_CYRILLIC}9` }),
    );
    expect(JSON.stringify(invalid)).not.toContain("913");
    const face = await resident.faces.enroll.mutate({ image: FACE_BASE64 });
    expect((await resident.faces.list.query()).map((f) => f.faceId)).toEqual([face.faceId]);
    // a failing partner call carrying the canaries, to put them near error paths too
    stack.sims.barrier.faults.set({ failNext: 3, errorStatus: 503 });
    await errorOf(resident.plates.add.mutate({ siteId: "site-a", plate: "К 914 РМ 199" }));
    stack.sims.barrier.faults.reset();

    await resident.consent.revoke.mutate({ purpose: "plates" });
    await resident.consent.revoke.mutate({ purpose: "faces" });
    await stack.background.runErasuresOnce();
    expect(stack.sims.barrier.data.plates()).toEqual([]);
    expect(stack.sims.intercom.data.faces()).toEqual([]);

    const canaries = [
      PLATE_LATIN,
      PLATE_CYRILLIC,
      PLATE_CYRILLIC.replaceAll(" ", ""),
      "K914PM199",
      FACE_MARKER,
      FACE_BASE64,
      FACE_BASE64.slice(8, 60),
    ];
    const database = await dumpDatabase();
    expect(database.length).toBeGreaterThan(1000);
    expect(database).toContain("plates.add"); // the calls are audited…
    const logText = logs.join("\n");
    expect(logs.length).toBeGreaterThan(10);
    for (const canary of canaries) {
      expect({ where: "database", found: database.includes(canary) }).toEqual({
        where: "database",
        found: false,
      });
      expect({ where: "logs", found: logText.includes(canary) }).toEqual({
        where: "logs",
        found: false,
      });
    }
    for (const file of filesUnder(dataDir)) {
      const bytes = readFileSync(file);
      for (const canary of canaries) {
        expect({ file, found: bytes.includes(Buffer.from(canary)) }).toEqual({
          file,
          found: false,
        });
      }
    }

    // client secrets and access tokens: not in the database, not in the logs
    const secrets = [
      stack.env.PARTNER_INTERCOM_CLIENT_SECRET,
      stack.env.PARTNER_BARRIER_CLIENT_SECRET,
      token,
    ];
    for (const secret of secrets) {
      expect(database.includes(String(secret))).toBe(false);
      expect(logText.includes(String(secret))).toBe(false);
    }
    const jwt = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/;
    expect(jwt.test(database)).toBe(false);
    expect(jwt.test(logText)).toBe(false);
  });

  test("a database error is logged by its code and statement, never its parameters", async () => {
    // A resident whose subject row the database refuses: the insert carries the user id, the
    // pseudonym and the sites as parameters, which drizzle's error message would repeat.
    const userId = "user-canary-db-5e1f";
    const subject = subjectFor(userId, stack.deps.partners.intercom.subjectKey);
    await stack.database.db.execute(
      sql.raw(`create or replace function propgate_test_refuse() returns trigger language plpgsql as $$
        begin raise exception 'refused by the test' using errcode = 'P0001'; end $$`),
    );
    await stack.database.db.execute(
      sql.raw(`create trigger propgate_test_refuse before insert on partner_subjects for each row
        when (new.user_id = '${userId}') execute function propgate_test_refuse()`),
    );
    const before = logs.length;
    try {
      const token = await stack.issuer.mint({ sub: userId, sites: ["site-canary-db"] });
      const resident = createTRPCClient<AppRouter>({
        links: [
          httpLink({ url: `${stack.api.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
        ],
      });
      await resident.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
      const error = await errorOf(resident.intercom.openDoor.mutate({ deviceId: "door-a1" }));
      expect(error.code).toBe("FORBIDDEN"); // door-a1 is not on site-canary-db…
      const opened = await errorOf(
        createTRPCClient<AppRouter>({
          links: [
            httpLink({
              url: `${stack.api.url}/trpc`,
              headers: {
                authorization: `Bearer ${await stack.issuer.mint({ sub: userId, sites: ["site-a"] })}`,
              },
            }),
          ],
        }).intercom.openDoor.mutate({ deviceId: "door-a1" }),
      );
      expect(opened.code).toBe("INTERNAL_SERVER_ERROR"); // …this one reaches the refused insert
    } finally {
      await stack.database.db.execute(
        sql.raw("drop trigger propgate_test_refuse on partner_subjects"),
      );
    }
    const written = logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    const failed = written.find((line) => line.msg === "procedure failed");
    expect(failed?.err).toEqual({
      type: expect.any(String),
      database: true,
      code: "P0001",
      statement: "insert partner_subjects",
    });
    const text = logs.slice(before).join("\n");
    expect(text).not.toContain(subject);
    expect(text).not.toContain("site-canary-db");
    expect(text).not.toContain("params");
    expect(text).not.toContain(userId);
  });
});
