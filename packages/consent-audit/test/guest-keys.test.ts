import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import {
  claimDueKeyEnds,
  completeKeyEnd,
  countActiveKeys,
  countEndingKeys,
  createSubjectRegistry,
  type Database,
  endExpiredKeys,
  failKeyEndAttempt,
  findKeyByIdempotencyKey,
  getKey,
  InvalidInputError,
  listKeys,
  placeBlock,
  type RecordKeyInput,
  recordAnomaly,
  recordKey,
  requestEndOfMovedDeviceKeys,
  requestKeyEnd,
  requestKeyEnds,
  revokeConsent,
  upsertDevices,
} from "../src/index";
import { guestKeys } from "../src/schema";
import {
  ADMIN_AUDIT,
  APP_AUDIT,
  databasesPerTest,
  grant,
  newUserId,
  revokeInput,
  rowsOf,
} from "./fixtures";

setDefaultTimeout(60_000);

const database = databasesPerTest();
const HOUR = 3_600_000;

function keyInput(userId: string, over: Partial<RecordKeyInput> = {}): RecordKeyInput {
  const now = Date.now();
  return {
    userId,
    partner: "intercom",
    partnerKeyId: `pk-${crypto.randomUUID()}`,
    siteId: "site-a",
    deviceIds: ["door_1", "door_2"],
    validFrom: new Date(now).toISOString(),
    validUntil: new Date(now + 2 * HOUR).toISOString(),
    label: "Courier",
    ...over,
  };
}

async function record(db: Database, userId: string, over: Partial<RecordKeyInput> = {}) {
  return (await recordKey(db, keyInput(userId, over))).key;
}

describe("guest keys", () => {
  test("a recorded key is listed and counted as active, and holds no code column", async () => {
    const { db } = await database();
    const userId = newUserId();
    const key = await record(db, userId, { maxUses: 3 });
    expect(key).toMatchObject({
      userId,
      state: "active",
      deviceIds: ["door_1", "door_2"],
      maxUses: 3,
      label: "Courier",
      endReason: null,
    });
    expect(key.id).toMatch(/^key_[0-9a-z]{20}$/);
    expect((await listKeys(db, userId)).map((k) => k.id)).toEqual([key.id]);
    expect(await countActiveKeys(db, userId)).toBe(1);
    expect(await listKeys(db, newUserId())).toEqual([]);
    const columns = rowsOf(
      await db.execute(
        sql`select column_name from information_schema.columns where table_name = 'guest_keys'`,
      ),
    ).map((row) => String(row.column_name));
    expect(columns.filter((name) => /code|qr|pin/.test(name))).toEqual([]);
  });

  test("a retried record with one idempotency key keeps one key", async () => {
    const { db } = await database();
    const userId = newUserId();
    const first = await recordKey(db, keyInput(userId, { idempotencyKey: "idem-0001" }));
    const again = await recordKey(db, keyInput(userId, { idempotencyKey: "idem-0001" }));
    expect(first.created).toBe(true);
    expect(again).toEqual({ key: first.key, created: false });
    expect((await findKeyByIdempotencyKey(db, userId, "idem-0001"))?.id).toBe(first.key.id);
    // The key is the resident's own: another resident's same key makes another row.
    const other = await recordKey(db, keyInput(newUserId(), { idempotencyKey: "idem-0001" }));
    expect(other.created).toBe(true);
    expect(await countActiveKeys(db, userId)).toBe(1);
  });

  test("bad input is refused before the database: label, validity, devices", async () => {
    const { db } = await database();
    const userId = newUserId();
    const refused = [
      { label: "x".repeat(41) },
      { label: "bell\u0007" },
      { validUntil: new Date(Date.now() - HOUR).toISOString() },
      { deviceIds: [] },
      { deviceIds: ["Door 1"] },
    ];
    for (const over of refused) {
      await expect(recordKey(db, keyInput(userId, over))).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(await countActiveKeys(db, userId)).toBe(0);
  });

  test("a resident's revoke queues the key, which leaves the list at once and is claimed", async () => {
    const { db } = await database();
    const userId = newUserId();
    const key = await record(db, userId);
    expect(await requestKeyEnd(db, { id: key.id, userId: newUserId(), reason: "resident" })).toBe(
      false,
    );
    expect(await requestKeyEnd(db, { id: key.id, userId, reason: "resident" })).toBe(true);
    expect(await requestKeyEnd(db, { id: key.id, userId, reason: "resident" })).toBe(false);
    expect(await listKeys(db, userId)).toEqual([]);
    expect(await getKey(db, key.id, userId)).toMatchObject({
      state: "ending",
      endReason: "resident",
    });
    expect(await countEndingKeys(db)).toBe(1);

    const [claimed] = await claimDueKeyEnds(db, { limit: 10, leaseSeconds: 30 });
    expect(claimed?.id).toBe(key.id);
    // Leased: another worker does not claim it until the lease runs out.
    expect(await claimDueKeyEnds(db, { limit: 10, leaseSeconds: 30 })).toEqual([]);
    await failKeyEndAttempt(db, key.id, { errorCode: "http_503", retryInSeconds: 0 });
    const [retried] = await claimDueKeyEnds(db, { limit: 10, leaseSeconds: 30 });
    expect(retried).toMatchObject({ id: key.id, endAttempts: 1, endLastError: "http_503" });
    expect(await completeKeyEnd(db, key.id)).toBe(true);
    expect(await completeKeyEnd(db, key.id)).toBe(false);
    expect(await getKey(db, key.id, userId)).toMatchObject({ state: "ended" });
    expect(await countEndingKeys(db)).toBe(0);
  });

  test("revoking guests consent queues every active key of the resident, no one else's", async () => {
    const { db } = await database();
    const userId = newUserId();
    const other = newUserId();
    await grant(db, userId, "guests");
    const keys = [await record(db, userId), await record(db, userId), await record(db, userId)];
    const theirs = await record(db, other);
    await revokeConsent(db, revokeInput(userId, "guests"), APP_AUDIT);
    expect(await listKeys(db, userId)).toEqual([]);
    const claimed = await claimDueKeyEnds(db, { limit: 10, leaseSeconds: 30 });
    expect(claimed.map((k) => k.id).sort()).toEqual(keys.map((k) => k.id).sort());
    expect(claimed.every((k) => k.endReason === "consent_revoked")).toBe(true);
    expect((await listKeys(db, other)).map((k) => k.id)).toEqual([theirs.id]);
  });

  test("keys at sites the resident lost are queued; those at kept sites stay", async () => {
    const { db } = await database();
    const userId = newUserId();
    const kept = await record(db, userId, { siteId: "site-a" });
    const lost = await record(db, userId, { siteId: "site-b" });
    const ids = await requestKeyEnds(db, {
      userId,
      reason: "site_removed",
      keepSites: ["site-a"],
    });
    expect(ids).toEqual([lost.id]);
    expect((await listKeys(db, userId)).map((k) => k.id)).toEqual([kept.id]);
    expect(await requestKeyEnds(db, { userId, reason: "blocked" })).toEqual([kept.id]);
  });

  test("a key past its validity is not listed or counted, and is ended as expired", async () => {
    const { db } = await database();
    const userId = newUserId();
    const key = await record(db, userId);
    await db
      .update(guestKeys)
      .set({ validFrom: sql`now() - interval '2 hours'`, validUntil: sql`now() - interval '1 s'` });
    expect(await listKeys(db, userId)).toEqual([]);
    expect(await countActiveKeys(db, userId)).toBe(0);
    expect(await endExpiredKeys(db)).toBe(1);
    expect(await getKey(db, key.id, userId)).toMatchObject({
      state: "ended",
      endReason: "expired",
    });
  });

  test("a resident's token that no longer names a site queues that site's keys, once per sites", async () => {
    const { db } = await database();
    const userId = newUserId();
    const kept = await record(db, userId, { siteId: "site-a" });
    const lost = await record(db, userId, { siteId: "site-b" });
    const registry = createSubjectRegistry(db, () => "subject-x");
    await registry.confirmSites({ userId, sites: ["site-a", "site-b"] });
    expect((await listKeys(db, userId)).map((k) => k.id)).toEqual([kept.id, lost.id]);
    await registry.confirmSites({ userId, sites: ["site-a"] });
    expect((await listKeys(db, userId)).map((k) => k.id)).toEqual([kept.id]);
    expect(await getKey(db, lost.id, userId)).toMatchObject({
      state: "ending",
      endReason: "site_removed",
    });
    // The same sites again within the registry's memory write nothing: a key made meanwhile at
    // a site the token does not name (a stale instance) waits for the next change or the pass.
    const later = await record(db, userId, { siteId: "site-b" });
    await registry.confirmSites({ userId, sites: ["site-a"] });
    expect(await getKey(db, later.id, userId)).toMatchObject({ state: "active" });
  });

  test("keys whose door moved to another site or left the registry are queued; the rest stay", async () => {
    const { db } = await database();
    const userId = newUserId();
    const door = (id: string, siteId: string) => ({
      id,
      kind: "door" as const,
      siteId,
      partner: "intercom" as const,
      partnerDeviceId: `p-${id}`,
      name: `Door ${id}`,
    });
    await upsertDevices(
      db,
      [door("door_1", "site-a"), door("door_2", "site-a"), door("door_3", "site-a")],
      ADMIN_AUDIT,
    );
    const stays = await record(db, userId, { deviceIds: ["door_1"] });
    const moved = await record(db, userId, { deviceIds: ["door_1", "door_2"] });
    const gone = await record(db, userId, { deviceIds: ["door_3"] });
    expect(await requestEndOfMovedDeviceKeys(db)).toEqual([]);
    await upsertDevices(db, [door("door_2", "site-b")], ADMIN_AUDIT);
    await db.execute(sql`delete from devices where id = 'door_3'`);
    expect((await requestEndOfMovedDeviceKeys(db)).sort()).toEqual([moved.id, gone.id].sort());
    expect((await listKeys(db, userId)).map((k) => k.id)).toEqual([stays.id]);
    expect(await getKey(db, gone.id, userId)).toMatchObject({ endReason: "site_removed" });
  });

  test("a block of the resident queues their keys in the block's transaction; others' stay", async () => {
    const { db } = await database();
    const userId = newUserId();
    const other = newUserId();
    await record(db, userId);
    await record(db, userId);
    const theirs = await record(db, other);
    const { anomaly } = await recordAnomaly(db, {
      kind: "enumeration",
      subjectType: "resident",
      subjectId: userId,
      windowStart: new Date(),
      windowSeconds: 600,
      count: 50,
      threshold: 10,
    });
    await placeBlock(db, anomaly, { baseSeconds: 900, maxSeconds: 3600 }, APP_AUDIT);
    expect(await listKeys(db, userId)).toEqual([]);
    expect(await countEndingKeys(db)).toBe(2);
    expect((await listKeys(db, other)).map((k) => k.id)).toEqual([theirs.id]);
  });
});
