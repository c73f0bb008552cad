import { afterAll, describe, expect, test } from "bun:test";
import {
  blockSeconds,
  createBlockList,
  InvalidInputError,
  liftBlock,
  listBlocks,
  placeBlock,
  recordAnomaly,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { APP_AUDIT } from "./fixtures";

const handle = await createTestDatabase();
afterAll(() => handle.close());

const hit = (subjectId: string, count: number, windowStart = new Date(Date.UTC(2026, 0, 1))) => ({
  kind: "enumeration" as const,
  subjectType: "resident" as const,
  subjectId,
  windowStart,
  windowSeconds: 600,
  count,
  threshold: 10,
});

describe("anomalies and blocks", () => {
  test("one anomaly per rule, subject and window: the first is new, later hits raise its count", async () => {
    const first = await recordAnomaly(handle.db, hit("usr_a", 10));
    const later = await recordAnomaly(handle.db, hit("usr_a", 25));
    const lower = await recordAnomaly(handle.db, hit("usr_a", 12));
    expect(first.first).toBeTrue();
    expect(later).toMatchObject({ first: false, anomaly: { id: first.anomaly.id, count: 25 } });
    expect(lower.anomaly.count).toBe(25);
    const next = await recordAnomaly(handle.db, hit("usr_a", 11, new Date(Date.UTC(2026, 0, 2))));
    expect(next.first).toBeTrue();
    await expect(recordAnomaly(handle.db, { ...hit("", 1) })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });

  test("the same hit recorded at once, as by two instances: exactly one of them is first", async () => {
    // Each call stamps the same millisecond: being first must not be read from the times.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => recordAnomaly(handle.db, hit("usr_race", 10 + n))),
    );
    expect(results.filter((result) => result.first)).toHaveLength(1);
    expect(new Set(results.map((result) => result.anomaly.id)).size).toBe(1);
  });

  test("blocks double per offence up to the cap; one in force at a time; the list follows lifts", async () => {
    expect([1, 2, 3, 4, 10, 40].map((n) => blockSeconds(n, 900, 86_400))).toEqual([
      900, 1800, 3600, 7200, 86_400, 86_400,
    ]);
    const list = await createBlockList(handle);
    try {
      const { anomaly } = await recordAnomaly(handle.db, hit("usr_b", 10));
      const durations = { baseSeconds: 900, maxSeconds: 2000 };
      const block = await placeBlock(handle.db, anomaly, durations, APP_AUDIT);
      expect(block).toMatchObject({ offence: 1, subjectId: "usr_b" });
      expect(await placeBlock(handle.db, anomaly, durations, APP_AUDIT)).toBeNull();
      await list.reload();
      expect(list.check("resident", "usr_b")?.blockId).toBe(block?.id ?? "");
      expect(list.check("resident", "usr_c")).toBeNull();
      expect(list.check("ip", "usr_b")).toBeNull();
      expect(list.counts()).toMatchObject({ resident: 1, ip: 0, partner_client: 0 });

      await liftBlock(
        handle.db,
        { blockId: block?.id ?? "", reason: "a mistake", actor: "admin:1" },
        APP_AUDIT,
      );
      await list.reload();
      expect(list.check("resident", "usr_b")).toBeNull();
      const second = await placeBlock(handle.db, anomaly, durations, APP_AUDIT);
      const third =
        second &&
        (await liftBlock(
          handle.db,
          { blockId: second.id, reason: "again", actor: "admin:1" },
          APP_AUDIT,
        ));
      expect(third).toMatchObject({ offence: 2 });
      const capped = await placeBlock(handle.db, anomaly, durations, APP_AUDIT);
      if (!capped) throw new Error("no third block");
      expect((Date.parse(capped.expiresAt) - Date.parse(capped.createdAt)) / 1000).toBe(2000);
      expect(
        (await listBlocks(handle.db, { subjectId: "usr_b", activeOnly: true })).map((b) => b.id),
      ).toEqual([capped.id]);
      await expect(
        liftBlock(
          handle.db,
          { blockId: block?.id ?? "", reason: "twice", actor: "admin:1" },
          APP_AUDIT,
        ),
      ).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      await list.close();
    }
  });
});
