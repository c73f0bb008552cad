import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { listAuditEvents } from "@propgate/consent-audit";
import { subjectFor } from "@propgate/partner-client";
import {
  errorOf,
  HIGH_RATE_LIMITS,
  type Instance,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";

/**
 * Real-time revocation across api instances: A and B are two instances on one PostgreSQL
 * server (each with its own pool and consent-bus connection), sharing the partner simulators.
 */
const onPostgres = Boolean(process.env.DATABASE_URL);
if (!onPostgres) {
  if (process.env.CI) throw new Error("the revocation test needs PostgreSQL (DATABASE_URL) in CI");
  console.warn(
    "[skip] revocation across instances: needs two connections to one PostgreSQL server (set DATABASE_URL)",
  );
}

let stack: TestStack;
let b: Instance;
beforeAll(async () => {
  if (!onPostgres) return;
  // Load loops open doors far faster than a resident may: limits are not what is tested here.
  stack = await startTestStack({ env: HIGH_RATE_LIMITS });
  b = await startInstance(stack, "api-b");
});
afterAll(async () => {
  await b?.stop();
  await stack?.close();
});

interface Outcome {
  startedAt: number;
  endedAt: number;
  result: string;
}

/** Opens doors through `client` with `workers` loops until `stop()`; collects every outcome. */
function load(client: ReturnType<Instance["client"]>, workers: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const startedAt = performance.now();
      const result = await client.intercom.openDoor
        .mutate({ deviceId: "door-a1" })
        .then((answer) => answer.status)
        .catch(async (error) => (await errorOf(Promise.reject(error))).cause ?? "error");
      outcomes.push({ startedAt, endedAt: performance.now(), result });
    }
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function until(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(!onPostgres)("revocation across instances", () => {
  test("once revoke returns on A, B starts no partner request for the resident and answers CONSENT_REQUIRED", async () => {
    const userId = "user-revoke-load";
    const resident = await stack.resident(userId);
    await resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    const subject = subjectFor(userId, stack.deps.partners.intercom.subjectKey);
    const throughB = load(b.client(resident.token), 4);
    await until(() => throughB.outcomes.filter((o) => o.result === "opened").length >= 20);

    await resident.trpc.consent.revoke.mutate({ purpose: "intercom" }); // through A
    const revokedAt = performance.now();
    await until(() =>
      throughB.outcomes.some((o) => o.startedAt >= revokedAt && o.result === "CONSENT_REQUIRED"),
    );
    await throughB.stop();

    const after = throughB.outcomes.filter((o) => o.startedAt >= revokedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((o) => o.result === "CONSENT_REQUIRED")).toBe(true);
    const firstReject = Math.min(...after.map((o) => o.endedAt));
    console.log(
      `[revocation] revoke-to-reject on B: ${(firstReject - revokedAt).toFixed(1)} ms; ${throughB.outcomes.length} calls in the run`,
    );

    // the audit chain orders every attempt against the revoke: none after it, and the partner
    // saw exactly the attempts before it
    const rows = await listAuditEvents(stack.database.db, { userId, limit: 500 });
    const revokeSeq = rows.find((row) => row.kind === "consent.revoke")?.seq ?? 0;
    const requests = rows.filter((row) => row.kind === "partner.request");
    expect(revokeSeq).toBeGreaterThan(0);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((row) => row.seq < revokeSeq)).toBe(true);
    expect(stack.sims.intercom.recorder.count({ operation: "intercom.open", subject })).toBe(
      requests.length,
    );
  });

  test("with B's LISTEN connection killed, a revoke on A still stops B; the bus reconnects", async () => {
    const userId = "user-revoke-listener";
    const resident = await stack.resident(userId);
    await resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    const throughB = b.client(resident.token);
    expect((await throughB.intercom.openDoor.mutate({ deviceId: "door-a1" })).status).toBe(
      "opened",
    );

    await stack.database.db.execute(
      "select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen%' and datname = current_database() and pid <> pg_backend_pid()",
    );
    await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    const subject = subjectFor(userId, stack.deps.partners.intercom.subjectKey);
    const before = stack.sims.intercom.recorder.count({ operation: "intercom.open", subject });
    expect((await errorOf(throughB.intercom.openDoor.mutate({ deviceId: "door-a1" }))).cause).toBe(
      "CONSENT_REQUIRED",
    );
    expect(stack.sims.intercom.recorder.count({ operation: "intercom.open", subject })).toBe(
      before,
    );

    await until(
      () =>
        b.logs.some(
          (line) => line.msg === "consent bus reconnected; notifications in between were missed",
        ),
      15_000,
    );
    const metrics = await (await fetch(`${b.metrics?.url}/metrics`)).text();
    expect(metrics).toMatch(/propgate_consent_bus_reconnects_total\{app="api"\} [1-9]/);
  });

  test("a revocation on A abandons B's call that is waiting to retry", async () => {
    const userId = "user-revoke-retry";
    const resident = await stack.resident(userId);
    await resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    // the partner asks B to come back in 2 s; the resident revokes meanwhile
    stack.sims.intercom.recorder.clear();
    stack.sims.intercom.faults.set({ failNext: 1, errorStatus: 503, retryAfterSeconds: 2 });
    try {
      const started = performance.now();
      const pending = errorOf(
        b.client(resident.token).intercom.openDoor.mutate({ deviceId: "door-a1" }),
      );
      await until(
        () => stack.sims.intercom.recorder.count({ operation: "intercom.open", status: 503 }) > 0,
      );
      await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
      const error = await pending;
      expect(error.cause).toBe("CONSENT_REQUIRED");
      expect(performance.now() - started).toBeLessThan(1900);
      // the one refused attempt, and no retry after the revocation
      expect(stack.sims.intercom.recorder.count({ operation: "intercom.open" })).toBe(1);
    } finally {
      stack.sims.intercom.faults.reset();
    }
  });
});
