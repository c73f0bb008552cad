import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  completeErasure,
  enqueueErasure,
  listAuditEvents,
  markOverdueErasures,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import type { Principal } from "../src/index.ts";
import { callerAs, testPrincipal } from "./fixtures/database-app.ts";

/** `admin.erasures.records` and the overdue state in `admin.erasures.list` (issue 28, item 3). */

setDefaultTimeout(60_000);

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

const person = testPrincipal;

const VIEWER = person("viewer", "viewer");
const OPERATOR = person("operator", "operator");

const caller = (principal: Principal) => callerAs(database, principal);

const RESIDENT = person("resident");
const WORKER = { sourceApp: "api", instanceId: "api-test", actor: "erasure-worker" };

async function erasure(userId: string, partner: "intercom" | "barrier") {
  return enqueueErasure(
    database.db,
    {
      userId,
      partner,
      categories: [partner === "intercom" ? "faces" : "plates"],
      reason: "consent_revoked",
      requestedBy: userId,
    },
    { sourceApp: "api", instanceId: "api-test" },
  );
}

describe("admin.erasures", () => {
  test("records: JSON and CSV of the confirmed erasures, audited; residents are refused", async () => {
    const from = new Date().toISOString();
    const anna = `anna-${crypto.randomUUID()}`;
    const boris = `boris-${crypto.randomUUID()}`;
    const faces = await erasure(anna, "intercom");
    const plates = await erasure(boris, "barrier");
    await completeErasure(database.db, faces.id, { erased: { faces: 3 }, audit: WORKER });
    await completeErasure(database.db, plates.id, { erased: null, audit: WORKER });

    const json = await caller(VIEWER).admin.erasures.records({ format: "json", from });
    if (json.format !== "json") throw new Error("json asked");
    expect(
      json.records.map((r) => [r.userId, r.partner, r.categories.join(","), r.confirmedBy]).sort(),
    ).toEqual(
      [
        [anna, "intercom", "faces", "200 on DELETE"],
        [boris, "barrier", "plates", "204 on DELETE"],
      ].sort(),
    );

    // Kept TEST_SETTINGS.destructionRecordYears (3) after the destruction.
    for (const record of json.records) {
      const until = new Date(record.destroyedAt);
      until.setUTCFullYear(until.getUTCFullYear() + 3);
      expect(record.keepUntil).toBe(until.toISOString());
    }
    const csv = await caller(OPERATOR).admin.erasures.records({ format: "csv", from });
    if (csv.format !== "csv") throw new Error("csv asked");
    expect(csv.rows).toBe(2);
    const lines = csv.csv.split("\r\n");
    expect(lines[0]).toStartWith('"id","erasureId","userId","partner","categories","confirmedBy"');
    expect(lines.filter((line) => line.includes(`"${faces.id}","${anna}"`))).toHaveLength(1);

    const audited = await listAuditEvents(database.db, { kind: "admin.erasures.records" });
    expect(audited.map((row) => row.actor)).toEqual(
      expect.arrayContaining([VIEWER.userId, OPERATOR.userId]),
    );

    await expect(caller(RESIDENT).admin.erasures.records({ format: "json" })).rejects.toMatchObject(
      { code: "FORBIDDEN" },
    );
    await expect(
      caller(VIEWER).admin.erasures.records({ format: "json", from: "yesterday" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  test("list shows an accepted erasure past the deadline as overdue", async () => {
    const userId = `late-${crypto.randomUUID()}`;
    const request = await erasure(userId, "intercom");
    await completeErasure(database.db, request.id, {
      erased: null,
      status: "accepted",
      audit: WORKER,
    });
    const now = new Date(new Date(request.requestedAt).getTime() + 25 * 86_400_000);
    await markOverdueErasures(database.db, { deadlineSeconds: 25 * 86_400, now, audit: WORKER });
    const [listed] = await caller(VIEWER).admin.erasures.list({ userId });
    expect(listed).toMatchObject({ status: "accepted", overdueSince: now.toISOString() });
  });
});
