import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { retentionEnv } from "@propgate/config";
import {
  auditVerifyKey,
  type Database,
  liftBlock,
  listErasures,
  placeBlock,
  recordAnomaly,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { rowsOf } from "@propgate/consent-audit/testing";
import { subjectFor } from "@propgate/partner-client";
import { sql } from "drizzle-orm";
import { type Resident, startTestStack, type TestStack } from "../src/testing/harness.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

/**
 * The retention CANARY (invariant 9, docs/data-retention.md): a resident whose user id is a
 * canary goes through the real flows — consents granted and revoked, a door opened (audit rows,
 * pseudonym, journal, webhook message), a plate added at the barrier (its pseudonym there, an
 * erasure on revoke and its destruction record), a video session, a guest key, an anomaly and a
 * block — and then the retention job runs as operators run it (`propgate retention run`, all
 * periods 0). Every text and JSON column of every table (found in information_schema, so new
 * tables are searched too) may then hold the canary only where a rule below keeps it.
 *
 * The job runs as a second process against the same PostgreSQL, as in production; PGlite is
 * held by one process, so the test needs DATABASE_URL.
 */
const onPostgres = Boolean(process.env.DATABASE_URL);
const CANARY = `user-canary-retain-${crypto.randomUUID().slice(0, 8)}`;
const CLI = join(import.meta.dir, "../../cli/src/main.ts");

/** Where a rule keeps the canary after the job, and why (docs/data-retention.md). */
const KEPT: Record<string, string> = {
  consent_current: "intercom consent is still granted: its state is the consent",
  consent_events:
    "a granted consent's history is kept whole (the operator proves consent, 152-FZ art. 9)",
  partner_subjects:
    "the intercom pseudonym of a resident who still holds intercom consent (access checks)",
  destruction_records: "kept DESTRUCTION_RECORD_YEARS (3): RKN Order No. 179",
};

let stack: TestStack;
let resident: Resident;
let receiver: ReturnType<typeof Bun.serve>;
const offers = createOfferMaker();

beforeAll(async () => {
  if (!onPostgres) return;
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(null, { status: 204 }),
  });
  stack = await startTestStack({
    env: {
      ERASURE_INTERVAL_MS: "3600000",
      EVENTS_WEBHOOK_URL: `http://127.0.0.1:${receiver.port}/hooks`,
      EVENTS_WEBHOOK_SECRET: `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`,
      EVENTS_WEBHOOK_INTERVAL_MS: "60000",
    },
  });
  resident = await stack.resident(CANARY, ["site-a"]);
});
afterAll(async () => {
  await stack?.close();
  receiver?.stop(true);
  offers.close();
});

/** The canary's own strings: its user id and its pseudonym at each partner. */
function canaries(): Record<string, string> {
  return {
    "user id": CANARY,
    "intercom pseudonym": subjectFor(CANARY, stack.deps.partners.intercom.subjectKey),
    "barrier pseudonym": subjectFor(CANARY, stack.deps.partners.barrier.subjectKey),
  };
}

/** Every table.column (text, varchar, text[], json, jsonb) holding `needle`, from the catalog. */
async function whereFound(db: Database, needle: string): Promise<string[]> {
  const rows = rowsOf<{ t: string; c: string }>(
    await db.execute(sql`
      select table_name as t, column_name as c from information_schema.columns
      where table_schema = 'public'
        and (data_type in ('text', 'character varying', 'json', 'jsonb') or udt_name = '_text')
      order by 1, 2`),
  );
  const found: string[] = [];
  for (const { t, c } of rows) {
    const [first] = rowsOf<{ hit: boolean }>(
      await db.execute(
        sql`select exists (select 1 from ${sql.identifier(t)} where ${sql.identifier(c)}::text like ${`%${needle}%`}) as hit`,
      ),
    );
    if (first?.hit) found.push(`${t}.${c}`);
  }
  return found;
}

const tablesOf = (columns: string[]) => [...new Set(columns.map((c) => c.split(".")[0]))].sort();

async function plantThroughRealFlows() {
  const trpc = resident.trpc;
  for (const purpose of ["intercom", "journal", "video", "guests", "plates"] as const)
    await trpc.consent.grant.mutate({ purpose, noticeVersion: 1 });
  await trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
  await trpc.plates.add.mutate({ siteId: "site-a", plate: "К 915 РМ 199" });
  const session = await trpc.video.createSession.mutate({
    cameraId: "cam-a1",
    offerSdp: await offers.makeOffer(),
  });
  await trpc.video.endSession.mutate({ sessionId: session.sessionId });
  const from = Date.now() + 60_000;
  const key = await trpc.keys.create.mutate({
    deviceIds: ["door-a1"],
    validFrom: new Date(from).toISOString(),
    validUntil: new Date(from + 3_600_000).toISOString(),
  });
  await trpc.keys.revoke.mutate({ keyId: key.keyId });
  await stack.background.runKeyEndsOnce();
  // The open's webhook message: delivered now, or already by the pass its commit woke.
  await stack.background.runWebhooksOnce();
  const messages = await stack.database.db.execute(
    sql`select status from webhook_outbox where user_id = ${CANARY}`,
  );
  expect(rowsOf<{ status: string }>(messages).map((row) => row.status)).toEqual(["delivered"]);
  // An anomaly about the resident and a block it caused, lifted by an admin (as the watch and
  // the admin app do; no rule can be made to fire on one resident here without a burst).
  const db = stack.database.db;
  const { anomaly } = await recordAnomaly(db, {
    kind: "unusual_opening",
    subjectType: "resident",
    subjectId: CANARY,
    windowStart: new Date(),
    windowSeconds: 600,
    count: 60,
    threshold: 60,
  });
  const block = await placeBlock(
    db,
    anomaly,
    { baseSeconds: 900, maxSeconds: 900 },
    { sourceApp: "api", instanceId: "canary", actor: null },
  );
  if (!block) throw new Error("no block placed");
  await liftBlock(
    db,
    { blockId: block.id, actor: "admin:canary", reason: "the canary's test" },
    {
      sourceApp: "admin",
      instanceId: "canary",
      actor: "admin:canary",
      reason: "the canary's test",
    },
  );
  for (const purpose of ["video", "guests", "plates"] as const)
    await trpc.consent.revoke.mutate({ purpose });
  await stack.background.runErasuresOnce();
  const erasures = await listErasures(db, { userId: CANARY });
  expect(erasures.map((e) => e.status)).toEqual(["done"]);
}

describe.if(onPostgres)("retention forgets a canary resident", () => {
  test("after `propgate retention run` the canary is found only where a named rule keeps it", async () => {
    await plantThroughRealFlows();
    const db = stack.testDatabase.db;
    const planted = tablesOf(
      (await Promise.all(Object.values(canaries()).map((n) => whereFound(db, n)))).flat(),
    );
    // Planted through the flows: the canary is in every kind the job prunes.
    expect(planted).toEqual(
      expect.arrayContaining([
        "anomalies",
        "audit_events",
        "blocks",
        "consent_current",
        "consent_events",
        "destruction_records",
        "erasure_requests",
        "guest_keys",
        "journal_entries",
        "partner_subjects",
        "video_sessions",
        "webhook_outbox",
      ]),
    );

    // Journal consent keeps the resident's pseudonym at every partner (partner events name them
    // by it): revoked now, only the intercom consent keeps one, and the barrier's must go.
    await resident.trpc.consent.revoke.mutate({ purpose: "journal" });

    const periods = Object.fromEntries(
      Object.keys(retentionEnv).map((name) => [
        name,
        name === "DESTRUCTION_RECORD_YEARS" ? "1" : "0",
      ]),
    );
    const job = Bun.spawn([process.execPath, CLI, "retention", "run"], {
      env: {
        PATH: process.env.PATH ?? "",
        PROPGATE_ENV: "production",
        DATABASE_URL: stack.testDatabase.url ?? "",
        AUDIT_SIGNING_KEY_FILE: String(stack.env.AUDIT_SIGNING_KEY_FILE),
        ...periods,
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([
      job.exited,
      new Response(job.stdout).text(),
      new Response(job.stderr).text(),
    ]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toContain("retention run: pruned anomalies");
    for (const [name, needle] of Object.entries(canaries())) {
      const found = await whereFound(db, needle);
      const unexplained = found.filter((column) => !(String(column.split(".")[0]) in KEPT));
      expect({ canary: name, unexplained }).toEqual({ canary: name, unexplained: [] });
    }
    expect(await whereFound(db, canaries()["barrier pseudonym"] ?? "")).toEqual([]);
    // The job's own row holds nothing of anyone, and the log still verifies with the key.
    const key = await Bun.file(String(stack.env.AUDIT_SIGNING_KEY_FILE)).text();
    expect(await verifyAuditChain(db, { publicKey: auditVerifyKey(key) })).toMatchObject({
      ok: true,
    });
  });
});
