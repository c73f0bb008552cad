import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type AuditContext, createBlockList, listAuditEvents } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import type { Principal } from "../src/index.ts";
import { closeRedis, openRedis } from "../src/redis-connection.ts";
import { WATCH_RULES, type WatchRule } from "../src/watch/rules.ts";
import { createWatch, type Watch } from "../src/watch/watch.ts";
import { keysApp } from "./fixtures/keys-app.ts";
import { observed } from "./fixtures/observed.ts";

setDefaultTimeout(60_000);

/**
 * Mass key creation (rule `key_creations`) through the procedures, on the real watch: counted in
 * Redis when REDIS_URL is set (as every instance shares it), blocks stored in the database.
 * The block stops the offender's key creation only (docs/architecture.md, invariant 7).
 */

const THRESHOLD = 3;
const ANNA: Principal = { userId: "resident-anna", sites: ["site-a"], units: [], adminRole: null };
const BEN: Principal = { userId: "resident-ben", sites: ["site-a"], units: [], adminRole: null };
const OPS: Principal = { userId: "admin-ops", sites: [], units: [], adminRole: "operator" };
const AUDIT: AuditContext = { sourceApp: "api", instanceId: "api-test", actor: "propgate" };

let database: TestDatabase;
let watch: Watch;
let redis: ReturnType<typeof openRedis> | null = null;
beforeAll(async () => {
  database = await createTestDatabase();
  redis = process.env.REDIS_URL ? openRedis(process.env.REDIS_URL) : null;
  const rules = Object.fromEntries(
    Object.keys(WATCH_RULES).map((rule) => [rule, { threshold: 1000, windowSeconds: 60 }]),
  ) as Record<WatchRule, { threshold: number; windowSeconds: number }>;
  rules.key_creations = { threshold: THRESHOLD, windowSeconds: 3600 };
  const services = observed();
  watch = createWatch(
    {
      rules,
      blockBaseSeconds: 900,
      blockMaxSeconds: 3600,
      keyPrefix: `propgate-test:keys-abuse:${crypto.randomUUID()}:`,
    },
    { database, blocks: await createBlockList(database), ...services, audit: AUDIT, redis },
  );
});
afterAll(async () => {
  await watch.close();
  await watch.blocks.close();
  if (redis) closeRedis(redis);
  await database.close();
});

const inTwoHours = () => new Date(Date.now() + 2 * 3_600_000).toISOString();

describe("mass key creation", () => {
  test("past the threshold the resident's key creation alone is blocked, and an admin lifts it", async () => {
    const app = keysApp(database, { anna: ANNA, ben: BEN, ops: OPS }, { watch });
    const create = async (token: string) => {
      const answer = await app.call(token, "keys.create", {
        deviceIds: ["door-a1"],
        validUntil: inTwoHours(),
      });
      await watch.settle();
      return answer;
    };
    const created: string[] = [];
    for (let i = 0; i < THRESHOLD; i++) {
      const answer = await create("anna");
      expect(answer.status).toBe(200);
      created.push((answer.data as { keyId: string }).keyId);
    }
    const issued = app.partner.issuedCount();

    const refused = await create("anna");
    expect(refused.status).toBe(403);
    expect(refused.cause).toMatchObject({ code: "BLOCKED" });
    expect(app.partner.issuedCount()).toBe(issued);

    // Another resident still creates keys.
    expect((await create("ben")).status).toBe(200);
    // The blocked one still opens doors, lists and revokes keys, reads and revokes consent.
    const opened = await app.call("anna", "intercom.openDoor", { deviceId: "door-a1" });
    expect(opened.data).toMatchObject({ status: "opened" });
    const listed = await app.call("anna", "keys.list", undefined, false);
    expect((listed.data as Array<{ keyId: string }>).map((key) => key.keyId)).toEqual(created);
    expect((await app.call("anna", "keys.revoke", { keyId: created[0] })).data).toEqual({
      revoked: true,
    });
    expect((await app.call("anna", "consent.list", undefined, false)).status).toBe(200);
    const revoked = await app.call("anna", "consent.revoke", { purpose: "journal" });
    expect(revoked.status).toBe(200);

    // The admin sees the block on the resident's key creation and lifts it.
    const blocks = await app.call(
      "ops",
      "admin.blocks.list",
      { subjectType: "resident_keys", subjectId: ANNA.userId, activeOnly: true },
      false,
    );
    const [block] = blocks.data as Array<{ id: string; kind: string }>;
    expect(block).toMatchObject({ kind: "mass_key_creation" });
    const placed = await listAuditEvents(database.db, { kind: "block.placed" });
    expect(placed.map((row) => [row.userId, row.target])).toContainEqual([
      ANNA.userId,
      `resident_keys:${ANNA.userId}`,
    ]);
    const lifted = await app.call("ops", "admin.blocks.lift", {
      blockId: block?.id,
      reason: "the resident's party: 30 guests",
    });
    expect(lifted.status).toBe(200);
    expect((await create("anna")).status).toBe(200);
  });
});
