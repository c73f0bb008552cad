import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ConsentCache, listAuditEvents, listJournal } from "@propgate/consent-audit";
import { subjectFor } from "@propgate/partner-client";
import {
  errorOf,
  grant,
  HIGH_RATE_LIMITS,
  type Instance,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";

/**
 * The consent held in an instance's memory (grants and refusals) against changes made on another
 * instance while the consent bus does not reach it: a stale grant can only end in a refusal at
 * the attempt's commit-time check, and a stale refusal never refuses a partner call.
 */
const onPostgres = Boolean(process.env.DATABASE_URL);
if (!onPostgres) {
  if (process.env.CI)
    throw new Error("the consent cache test needs PostgreSQL (DATABASE_URL) in CI");
  console.warn("[skip] consent cache across instances: needs PostgreSQL (set DATABASE_URL)");
}

let stack: TestStack;
let b: Instance;
beforeAll(async () => {
  if (!onPostgres) return;
  stack = await startTestStack({ env: HIGH_RATE_LIMITS });
  b = await startInstance(stack, "api-b");
});
afterAll(async () => {
  await b?.stop();
  await stack?.close();
});

/** B's consent bus cut: what it would deliver (a change, a reconnect's flush) is dropped. */
async function withBusCut<T>(instance: Instance, run: () => Promise<T>): Promise<T> {
  const consents: ConsentCache = instance.deps.consents;
  const { changed, clear } = consents;
  consents.changed = () => {};
  consents.clear = () => {};
  try {
    return await run();
  } finally {
    consents.changed = changed;
    consents.clear = clear;
  }
}

describe.skipIf(!onPostgres)("consent in memory, with the consent bus cut", () => {
  test("a grant B still remembers after a revoke on A can only refuse: the commit-time check does", async () => {
    const userId = "user-stale-grant";
    const resident = await stack.resident(userId);
    await grant(resident, ["intercom"]);
    const throughB = b.client(resident.token);
    expect((await throughB.intercom.openDoor.mutate({ deviceId: "door-a1" })).status).toBe(
      "opened",
    );
    const subject = subjectFor(userId, stack.deps.partners.intercom.subjectKey);

    await withBusCut(b, async () => {
      await resident.trpc.consent.revoke.mutate({ purpose: "intercom" }); // through A
      // B's memory is stale: it still answers "granted" without reading the row.
      expect(await b.deps.consents.isGranted(userId, "intercom")).toBe(true);
      const before = stack.sims.intercom.recorder.count({ operation: "intercom.open", subject });
      const error = await errorOf(throughB.intercom.openDoor.mutate({ deviceId: "door-a1" }));
      expect(error.cause).toBe("CONSENT_REQUIRED");
      expect(stack.sims.intercom.recorder.count({ operation: "intercom.open", subject })).toBe(
        before,
      );
    });

    // The audit trail: B's refusal is an access.denied row after the revoke, no request after it.
    const rows = await listAuditEvents(stack.database.db, { userId, limit: 100 });
    const revokeAt = rows.find((row) => row.kind === "consent.revoke")?.at ?? new Date(0);
    const after = rows.filter((row) => row.at >= revokeAt && row.kind !== "consent.revoke");
    expect(after.map((row) => [row.kind, row.instanceId])).toContainEqual([
      "access.denied",
      "api-b",
    ]);
    expect(after.some((row) => row.kind === "partner.request")).toBe(false);
  });

  test("a refusal B remembers does not refuse a partner call after a grant on A", async () => {
    const userId = "user-stale-refusal";
    const resident = await stack.resident(userId);
    const throughB = b.client(resident.token);
    // B reads the refusal (and remembers it).
    expect((await errorOf(throughB.intercom.openDoor.mutate({ deviceId: "door-a1" }))).cause).toBe(
      "CONSENT_REQUIRED",
    );
    await withBusCut(b, async () => {
      await grant(resident, ["intercom"]); // through A; B hears nothing
      expect((await throughB.intercom.openDoor.mutate({ deviceId: "door-a1" })).status).toBe(
        "opened",
      );
    });
  });

  test("the journal's own-open check takes a remembered refusal: one entry skipped until the bus delivers", async () => {
    const userId = "user-stale-journal";
    const resident = await stack.resident(userId);
    await grant(resident, ["intercom"]);
    const throughB = b.client(resident.token);
    // Without journal consent the open keeps no entry, and B remembers the refusal.
    await throughB.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await withBusCut(b, async () => {
      await grant(resident, ["journal"]); // through A
      await throughB.intercom.openDoor.mutate({ deviceId: "door-a1" });
      expect((await listJournal(stack.database.db, userId)).entries).toHaveLength(0);
    });
    // The change reaches B (here: as a reconnect's flush would): the next open is journaled.
    b.deps.consents.clear();
    await throughB.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const entries = (await listJournal(stack.database.db, userId)).entries;
    expect(entries.map((entry) => [entry.kind, entry.deviceId])).toEqual([
      ["access.granted", "door-a1"],
    ]);
  });
});
