import { afterAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  enqueueErasure,
  exportDestructionRecords,
  listAuditEvents,
  listErasures,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { createPartnerClient, subjectOperations } from "@propgate/partner-client";
import { type ErasureWorkerOptions, startErasureWorker } from "../src/erasure/worker.ts";
import type { Partners } from "../src/partners.ts";
import { consentBook, memoryAuditWriter, only, pseudonymOf } from "./fake-services.ts";
import { observed } from "./fixtures/observed.ts";

setDefaultTimeout(60_000);

/**
 * Erasure followed to the end (issue 28, item 3), in process: a real database, the erasure
 * worker, the partner client over a fake intercom that answers the DELETE 202 and its status
 * `pending` (with `Retry-After: 0`) until the test lets it finish.
 */

const DAY_MS = 86_400_000;
const database = await createTestDatabase();
afterAll(() => database.close());

let finished = false;
let completedAt: string | undefined;
const asked: string[] = [];
const intercom = createPartnerClient({
  name: "intercom",
  baseUrl: new URL("https://intercom.test/api/"),
  tokenSource: { getToken: async () => "partner-token" },
  fetch: async (input, init) => {
    const url = new URL(String(input));
    asked.push(`${init?.method ?? "GET"} ${url.pathname}`);
    if (init?.method === "DELETE") return new Response(null, { status: 202 });
    if (!finished) {
      return Response.json({ status: "pending" }, { headers: { "Retry-After": "0" } });
    }
    return Response.json({ status: "done", ...(completedAt ? { completedAt } : {}) });
  },
  timeoutMs: 2000,
  maxAttempts: 1,
});
const partners = only<Partners>("partners", {
  intercom: only<Partners["intercom"]>("intercom", { subjects: subjectOperations(intercom) }),
});

beforeEach(() => {
  finished = false;
  completedAt = undefined;
  asked.length = 0;
});

function worker(now: () => Date) {
  const seen = observed();
  const options: ErasureWorkerOptions = {
    instanceId: "api-test",
    intervalMs: 3_600_000,
    batch: 50,
    baseRetrySeconds: 0.01,
    maxRetrySeconds: 60,
    overdueSeconds: 72 * 3600,
    deadlineSeconds: 25 * 86_400,
    pollSeconds: 0,
    now,
  };
  const running = startErasureWorker(
    {
      database,
      partners,
      subjects: { pseudonym: pseudonymOf },
      auditWriter: memoryAuditWriter(consentBook()),
      metrics: seen.metrics,
      logger: seen.logger,
    },
    options,
  );
  return { running, seen };
}

async function queue(userId: string) {
  return enqueueErasure(
    database.db,
    {
      userId,
      partner: "intercom",
      categories: ["faces"],
      reason: "admin_request",
      requestedBy: "admin:adm_1",
    },
    { sourceApp: "admin", instanceId: "admin-1", actor: "admin:adm_1", reason: "letter" },
  );
}

async function statusOf(userId: string) {
  const [request] = await listErasures(database.db, { userId });
  if (!request) throw new Error("no erasure");
  return request;
}

describe("erasure worker: after a 202", () => {
  test("polls the partner until it says done → done, and one destruction record", async () => {
    const userId = `usr-poll-${crypto.randomUUID()}`;
    const request = await queue(userId);
    const { running } = worker(() => new Date());
    try {
      // The DELETE answered 202, and the first status poll follows in the same pass.
      await running.runOnce();
      expect(await statusOf(userId)).toMatchObject({ status: "accepted" });
      const subject = pseudonymOf("intercom", userId);
      const del = `DELETE /api/v1/subjects/${subject}`;
      const get = `GET /api/v1/subjects/${subject}/erasure`;
      expect(asked).toEqual([del, get]);
      // Pending with `Retry-After: 0`: asked again on each pass, never sent the DELETE again.
      await running.runOnce();
      await running.runOnce();
      expect(asked).toEqual([del, get, get, get]);
      expect(await statusOf(userId)).toMatchObject({ status: "accepted" });

      finished = true;
      completedAt = "2026-12-05T08:00:00.000Z";
      await running.runOnce();
      const done = await statusOf(userId);
      expect(done).toMatchObject({ status: "done", completedAt, overdueSince: null });
      await running.runOnce();
      expect(asked).toHaveLength(5);
    } finally {
      await running.stop();
    }

    const records = await exportDestructionRecords(
      database.db,
      { format: "json", keepYears: 3, from: new Date("2026-12-05T00:00:00Z") },
      { sourceApp: "admin", instanceId: "admin-1", actor: "admin:adm_1" },
    );
    if (records.format !== "json") throw new Error("json asked");
    const mine = records.records.filter((r) => r.userId === userId);
    expect(mine).toEqual([
      expect.objectContaining({
        erasureId: request.id,
        partner: "intercom",
        categories: ["faces"],
        confirmedBy: "status done on poll",
        destroyedAt: completedAt,
      }),
    ]);
    const csv = await exportDestructionRecords(
      database.db,
      { format: "csv", keepYears: 3, from: new Date("2026-12-05T00:00:00Z") },
      { sourceApp: "admin", instanceId: "admin-1", actor: "admin:adm_1" },
    );
    if (csv.format !== "csv") throw new Error("csv asked");
    expect(csv.csv).toContain(
      `"${request.id}","${userId}","intercom","faces","status done on poll"`,
    );
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true });
  });

  test("a partner that never finishes: overdue at the deadline, the overdue gauge at 1", async () => {
    const userId = `usr-never-${crypto.randomUUID()}`;
    const request = await queue(userId);
    const requestedAt = new Date(request.requestedAt).getTime();
    let clock = requestedAt;
    const { running, seen } = worker(() => new Date(clock));
    try {
      await running.runOnce();
      clock = requestedAt + 25 * DAY_MS - 1000;
      await running.runOnce();
      expect(await statusOf(userId)).toMatchObject({ status: "accepted", overdueSince: null });
      expect(await seen.metric("propgate_erasures_overdue")).toBe(0);

      clock = requestedAt + 25 * DAY_MS;
      await running.runOnce();
      expect(await statusOf(userId)).toMatchObject({
        status: "accepted",
        overdueSince: new Date(clock).toISOString(),
      });
      // The gauge counts every overdue request of the database (other tests' too): at least ours.
      expect(await seen.metric("propgate_erasures_overdue")).toBeGreaterThanOrEqual(1);
      const alerts = seen.lines("erasure not confirmed by the partner within the deadline");
      expect(alerts.filter((line) => line.erasureId === request.id)).toHaveLength(1);
      const overdue = await listAuditEvents(database.db, { userId, kind: "erasure.overdue" });
      expect(overdue).toHaveLength(1);

      // Still asked: a late "done" is recorded and ends the alert.
      finished = true;
      await running.runOnce();
      expect(await statusOf(userId)).toMatchObject({ status: "done" });
    } finally {
      await running.stop();
    }
  });
});
