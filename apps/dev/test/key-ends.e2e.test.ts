import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { listAuditEvents } from "@propgate/consent-audit";
import { startTestStack } from "../src/testing/harness.ts";
import { until } from "./until.ts";

// Guest keys end with the resident's rights (issue 27): on the started stack, a revocation of
// `guests` reaches every instance's end worker through the consent bus, which deletes the keys
// at partner-sim within 5 s — also when the sim is down at the revoke and returns later.
const stack = await startTestStack();
afterAll(() => stack.close());
const sim = stack.sims.intercom;
beforeEach(() => {
  sim.faults.reset();
  sim.recorder.clear();
});

const WITHIN_MS = 5000;

async function residentWithKeys(userId: string, count: number) {
  const resident = await stack.resident(userId, ["site-a"]);
  await resident.trpc.consent.grant.mutate({ purpose: "guests", noticeVersion: 1 });
  for (let n = 0; n < count; n++) {
    await resident.trpc.keys.create.mutate({
      deviceIds: n % 2 === 0 ? ["door-a1"] : ["door-a1", "door-a2"],
      validUntil: new Date(Date.now() + 2 * 3_600_000).toISOString(),
    });
  }
  return resident;
}

/** The sim's live keys that `userId`'s keys are (the sim knows only pseudonyms). */
function simKeysOf(keyIds: string[]) {
  return sim.keys.keys().filter((key) => keyIds.includes(key.keyId));
}

describe("guest keys end with the consent", () => {
  test("revoking guests with three active keys: keys.list is empty at once; the sim's keys are deleted within 5 s", async () => {
    const before = new Set(sim.keys.keys().map((key) => key.keyId));
    const resident = await residentWithKeys("user-keys-revoke", 3);
    const mine = sim.keys
      .keys()
      .map((key) => key.keyId)
      .filter((id) => !before.has(id));
    expect(mine).toHaveLength(3);
    expect(await resident.trpc.keys.list.query()).toHaveLength(3);

    await resident.trpc.consent.revoke.mutate({ purpose: "guests" });
    const revokedAt = Date.now();
    expect(await resident.trpc.keys.list.query()).toEqual([]);
    await until(() => simKeysOf(mine).length === 0, "the sim still holds the keys", WITHIN_MS);
    expect(Date.now() - revokedAt).toBeLessThan(WITHIN_MS);
    await stack.deps.auditWriter.flush();
    const deletes = await listAuditEvents(stack.database.db, {
      userId: "user-keys-revoke",
      operation: "keys.delete",
    });
    expect(deletes.filter((row) => row.kind === "partner.request")).toHaveLength(3);
    expect(new Set(deletes.map((row) => row.actor))).toEqual(new Set(["key-end-worker"]));
  });

  test("the sim is down at the revoke: its keys are deleted within 5 s of it coming back", async () => {
    const before = new Set(sim.keys.keys().map((key) => key.keyId));
    const resident = await residentWithKeys("user-keys-down", 2);
    const mine = sim.keys
      .keys()
      .map((key) => key.keyId)
      .filter((id) => !before.has(id));
    sim.faults.set({ errorRate: 1, errorStatus: 503 });
    await resident.trpc.consent.revoke.mutate({ purpose: "guests" });
    expect(await resident.trpc.keys.list.query()).toEqual([]);
    // A few refused DELETEs, while the keys still open doors at the sim.
    await until(
      () => sim.recorder.all().filter((r) => r.operation === "keys.delete").length >= 2,
      "no DELETE was tried",
      WITHIN_MS,
    );
    expect(simKeysOf(mine)).toHaveLength(2);

    sim.faults.set({ errorRate: 0 });
    const backAt = Date.now();
    await until(() => simKeysOf(mine).length === 0, "the sim still holds the keys", WITHIN_MS);
    expect(Date.now() - backAt).toBeLessThan(WITHIN_MS);
  });
});
