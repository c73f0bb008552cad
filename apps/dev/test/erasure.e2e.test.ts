import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { listAuditEvents, verifyAuditChain } from "@propgate/consent-audit";
import { subjectFor } from "@propgate/partner-client";
import { startInstance, startTestStack, type TestStack } from "../src/testing/harness.ts";

let stack: TestStack;
beforeAll(async () => {
  // the outbox is driven by hand (runErasuresOnce), not by the timer
  stack = await startTestStack({
    env: { ERASURE_INTERVAL_MS: "3600000", ERASURE_RETRY_BASE_SECONDS: "1" },
  });
});
afterAll(() => stack.close());

function jpeg(marker: string): string {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    Buffer.from(marker.padEnd(64, " ")),
    Buffer.from([0xff, 0xd9]),
  ]).toString("base64");
}

async function adminClient() {
  return stack.client(await stack.issuer.mint({ sub: "admin-erasure", sites: [], admin: true }));
}

/** Polls until `check` resolves truthy or the deadline passes. */
async function eventually<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("erasure at the partner after revocation", () => {
  test("revoking faces erases at the partner; failures are retried; an api restart in between loses nothing", async () => {
    const resident = await stack.resident("user-erase-faces");
    await resident.trpc.consent.grant.mutate({ purpose: "faces", noticeVersion: 1 });
    await resident.trpc.faces.enroll.mutate({ image: jpeg("erase-me") });
    const subject = subjectFor("user-erase-faces", stack.deps.partners.intercom.subjectKey);
    expect(stack.sims.intercom.data.faces(subject)).toHaveLength(1);

    stack.sims.intercom.faults.set({ failErasures: 4 });
    await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
    const admin = await adminClient();
    const [queued] = await admin.admin.erasures.list.query({ userId: "user-erase-faces" });
    expect(queued).toMatchObject({
      partner: "intercom",
      categories: ["faces"],
      status: "pending",
      reason: "consent_revoked",
      requestedBy: "user-erase-faces",
    });

    // first pass: three attempts, all refused (503) → rescheduled, still pending
    expect(await stack.background.runErasuresOnce()).toBe(1);
    const [afterFailure] = await admin.admin.erasures.list.query({ userId: "user-erase-faces" });
    expect(afterFailure).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: "partner_unavailable",
    });
    expect(stack.sims.intercom.data.faces(subject)).toHaveLength(1);

    // "restart": this instance stops; a fresh one on the same database finishes the job
    await stack.background.stop();
    const restarted = await startInstance(stack, "api-restarted", {
      ERASURE_INTERVAL_MS: "3600000",
      ERASURE_RETRY_BASE_SECONDS: "1",
    });
    try {
      await eventually(
        async () =>
          (await restarted.background.runErasuresOnce()) > 0 &&
          (await admin.admin.erasures.list.query({ userId: "user-erase-faces" }))[0]?.status ===
            "done",
      );
    } finally {
      await restarted.stop();
    }
    expect(stack.sims.intercom.data.faces(subject)).toHaveLength(0);
    expect(
      stack.sims.intercom.data.erasures().filter((erasure) => erasure.subject === subject),
    ).toEqual([expect.objectContaining({ categories: ["faces"] })]);
    const [done] = await admin.admin.erasures.list.query({ userId: "user-erase-faces" });
    expect(done).toMatchObject({ status: "done", partnerResponse: { faces: 1 } });

    // the act of destruction: whose, which categories, when, by whom
    const [record] = await listAuditEvents(stack.database.db, {
      userId: "user-erase-faces",
      kind: "erasure.completed",
    });
    expect(record).toMatchObject({
      userId: "user-erase-faces",
      target: "faces",
      partner: "intercom",
      actor: "user-erase-faces",
      result: "ok",
    });
    expect(Date.parse(record?.at ?? "")).toBeGreaterThan(0);
    expect((await verifyAuditChain(stack.database.db)).ok).toBe(true);
  });

  test("an admin revoke of plates, with a reason, erases at the barrier partner", async () => {
    const resident = await stack.resident("user-erase-plates");
    await resident.trpc.consent.grant.mutate({ purpose: "plates", noticeVersion: 1 });
    await resident.trpc.plates.add.mutate({ siteId: "site-a", plate: "Е 001 КХ 97" });
    const admin = await adminClient();
    const consents = await admin.admin.consents.revoke.mutate({
      userId: "user-erase-plates",
      purpose: "plates",
      reason: "written request #12",
    });
    expect(consents.find((consent) => consent.purpose === "plates")?.state).toBe("revoked");
    const restarted = await startInstance(stack, "api-plates", { ERASURE_INTERVAL_MS: "3600000" });
    try {
      await restarted.background.runErasuresOnce();
    } finally {
      await restarted.stop();
    }
    const subject = subjectFor("user-erase-plates", stack.deps.partners.barrier.subjectKey);
    expect(stack.sims.barrier.data.plates(subject)).toEqual([]);
    const [record] = await listAuditEvents(stack.database.db, {
      userId: "user-erase-plates",
      kind: "erasure.completed",
    });
    expect(record).toMatchObject({
      target: "plates",
      partner: "barrier",
      actor: "admin:admin-erasure",
    });
  });

  for (const [answer, status, result, counts] of [
    ["no-content", "done", "ok", null],
    ["accepted", "accepted", "accepted", null],
  ] as const) {
    test(`a partner acknowledging with ${answer === "no-content" ? "204" : "202"}: ${status}, and never sent again`, async () => {
      const userId = `user-erase-${answer}`;
      const resident = await stack.resident(userId);
      await resident.trpc.consent.grant.mutate({ purpose: "faces", noticeVersion: 1 });
      await resident.trpc.faces.enroll.mutate({ image: jpeg(answer) });
      stack.sims.intercom.faults.set({ erasureAnswer: answer });
      stack.sims.intercom.recorder.clear();
      await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
      const instance = await startInstance(stack, `api-erase-${answer}`, {
        ERASURE_INTERVAL_MS: "3600000",
      });
      const admin = await adminClient();
      try {
        await eventually(
          async () =>
            (await instance.background.runErasuresOnce()) >= 0 &&
            (await admin.admin.erasures.list.query({ userId }))[0]?.status === status,
        );
        // Acknowledged: a later pass finds nothing of it to send.
        await instance.background.runErasuresOnce();
      } finally {
        await instance.stop();
        stack.sims.intercom.faults.set({ erasureAnswer: null });
      }
      const [request] = await admin.admin.erasures.list.query({ userId });
      expect(request).toMatchObject({ status, attempts: 0, partnerResponse: counts });
      expect(request?.completedAt).toBeString();
      const subject = subjectFor(userId, stack.deps.partners.intercom.subjectKey);
      const sent = stack.sims.intercom.recorder
        .all()
        .filter((r) => r.operation === "subjects.erase" && r.path.endsWith(subject));
      expect(sent.map((r) => r.status)).toEqual([answer === "no-content" ? 204 : 202]);
      const [record] = await listAuditEvents(stack.database.db, {
        userId,
        kind: "erasure.completed",
      });
      expect(record).toMatchObject({ target: "faces", partner: "intercom", result });
    });
  }

  test("a 202 is polled until partner-sim reports done: done, and one destruction record", async () => {
    const userId = "user-erase-polled";
    const resident = await stack.resident(userId);
    await resident.trpc.consent.grant.mutate({ purpose: "faces", noticeVersion: 1 });
    await resident.trpc.faces.enroll.mutate({ image: jpeg("polled") });
    stack.sims.intercom.faults.set({ erasureAnswer: "accepted", erasureCompletesAfterMs: 1500 });
    stack.sims.intercom.recorder.clear();
    await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
    const instance = await startInstance(stack, "api-erase-polled", {
      ERASURE_INTERVAL_MS: "3600000",
      ERASURE_POLL_SECONDS: "1",
    });
    const admin = await adminClient();
    try {
      await eventually(
        async () =>
          (await instance.background.runErasuresOnce()) >= 0 &&
          (await admin.admin.erasures.list.query({ userId }))[0]?.status === "done",
      );
    } finally {
      await instance.stop();
      stack.sims.intercom.faults.set({ erasureAnswer: null, erasureCompletesAfterMs: 0 });
    }
    const subject = subjectFor(userId, stack.deps.partners.intercom.subjectKey);
    const mine = stack.sims.intercom.recorder.all().filter((r) => r.path.includes(subject));
    expect(mine.filter((r) => r.operation === "subjects.erase").map((r) => r.status)).toEqual([
      202,
    ]);
    const polls = mine.filter((r) => r.operation === "subjects.erasure_status");
    expect(polls.length).toBeGreaterThanOrEqual(1);
    expect(polls.every((r) => r.method === "GET" && r.status === 200)).toBe(true);

    const exported = await admin.admin.erasures.records.query({ format: "json" });
    if (exported.format !== "json") throw new Error("json asked");
    const records = exported.records.filter((record) => record.userId === userId);
    expect(records).toEqual([
      expect.objectContaining({
        partner: "intercom",
        categories: ["faces"],
        confirmedBy: "status done on poll",
      }),
    ]);
    const completed = await listAuditEvents(stack.database.db, {
      userId,
      kind: "erasure.completed",
    });
    expect(completed.map((row) => row.result).sort()).toEqual(["accepted", "ok"]);
  });

  test("revoking a purpose without partner data queues no erasure", async () => {
    const resident = await stack.resident("user-erase-none");
    await resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    const admin = await adminClient();
    expect(await admin.admin.erasures.list.query({ userId: "user-erase-none" })).toEqual([]);
  });
});

describe("overdue erasures", () => {
  test("an erasure pending longer than the limit raises the overdue metric", async () => {
    const resident = await stack.resident("user-erase-overdue");
    await resident.trpc.consent.grant.mutate({ purpose: "faces", noticeVersion: 1 });
    stack.sims.intercom.faults.set({ failErasures: 100 });
    try {
      await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
      // as if the partner had been refusing for four days
      await stack.database.db.execute(
        "update erasure_requests set requested_at = now() - interval '4 days' where user_id = 'user-erase-overdue'",
      );
      const instance = await startInstance(stack, "api-overdue", {
        ERASURE_INTERVAL_MS: "3600000",
      });
      try {
        await instance.background.runErasuresOnce();
        const metrics = await (await fetch(`${instance.metrics?.url}/metrics`)).text();
        expect(metrics).toMatch(/propgate_erasures_overdue\{app="api"\} [1-9]/);
        expect(metrics).toMatch(/propgate_erasures_pending\{app="api"\} [1-9]/);
      } finally {
        await instance.stop();
      }
    } finally {
      stack.sims.intercom.faults.reset();
    }
  });
});
