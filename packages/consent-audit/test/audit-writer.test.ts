import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  ConsentRequiredError,
  countAuditEvents,
  createAuditWriter,
  InvalidInputError,
  listAuditEvents,
  revokeConsent,
  verifyAuditChain,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { APP_AUDIT, attemptInput, grant, newUserId } from "./fixtures";

setDefaultTimeout(60_000);

const handle = await createTestDatabase();
afterAll(() => handle.close());

const outcome = (promise: Promise<string>) =>
  promise.then(
    (id) => ({ sent: id }),
    (error: unknown) => {
      if (error instanceof ConsentRequiredError) return { denied: error.eventId };
      throw error;
    },
  );

describe("group commit of partner-call audit rows", () => {
  test("concurrent attempts share transactions; each caller gets its own row and verdict", async () => {
    const writer = createAuditWriter(handle.db);
    const [withConsent, other, without] = [newUserId(), newUserId(), newUserId()];
    await grant(handle.db, withConsent, "intercom");
    await grant(handle.db, other, "barrier");
    const inputs = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0
        ? attemptInput(withConsent, "intercom", i)
        : i % 3 === 1
          ? attemptInput(other, "barrier", i)
          : attemptInput(without, "intercom", i),
    );
    const before = await countAuditEvents(handle.db);
    const outcomes = await Promise.all(
      inputs.map((input) => outcome(writer.attempt(input, APP_AUDIT))),
    );

    expect(writer.stats.rows).toBe(60);
    expect(writer.stats.batches).toBeLessThanOrEqual(3);
    expect(outcomes.filter((o) => "sent" in o)).toHaveLength(40);
    expect(outcomes.filter((o) => "denied" in o)).toHaveLength(20);
    // Every verdict names its own row: a partner.request when sent, an access.denied when not.
    const rows = await listAuditEvents(handle.db, { limit: 500 });
    const byId = new Map(rows.map((row) => [row.id, row]));
    outcomes.forEach((o, i) => {
      const row = byId.get("sent" in o ? o.sent : o.denied);
      expect(row?.callId).toBe(inputs[i]?.callId);
      expect(row?.kind).toBe("sent" in o ? "partner.request" : "access.denied");
    });
    expect(await countAuditEvents(handle.db)).toBe(before + 60);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });

  test("a caller queueing as the previous batch ends is never left waiting", async () => {
    const writer = createAuditWriter(handle.db);
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    // Each call queues right when the one before resolves: the moment a writer loop ends.
    for (let i = 0; i < 30; i++) {
      await writer.attempt(attemptInput(userId, "intercom", i), APP_AUDIT);
    }
    expect(writer.stats).toEqual({ batches: 30, rows: 30 });
  });

  test("results are batched too, and an attempt after a revoke is denied", async () => {
    const writer = createAuditWriter(handle.db);
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const first = attemptInput(userId, "intercom", 1);
    expect(await outcome(writer.attempt(first, APP_AUDIT))).toHaveProperty("sent");
    await Promise.all(
      [1, 2, 3].map((attempt) =>
        writer.result(
          {
            callId: first.callId,
            operation: first.operation,
            partner: first.partner,
            target: first.target,
            userId,
            purpose: "intercom",
            attempt,
            result: "error",
            errorCode: "http_503",
            httpStatus: 503,
            latencyMs: 2,
          },
          APP_AUDIT,
        ),
      ),
    );
    await revokeConsent(
      handle.db,
      { userId, purpose: "intercom", channel: "app", method: "in_app_toggle", actor: userId },
      APP_AUDIT,
    );
    expect(
      await outcome(writer.attempt(attemptInput(userId, "intercom", 2), APP_AUDIT)),
    ).toHaveProperty("denied");
    const kinds = (await listAuditEvents(handle.db, { userId })).map((row) => row.kind);
    expect(kinds.filter((kind) => kind === "partner.response")).toHaveLength(3);
    expect(kinds[0]).toBe("access.denied");
  });

  test("bad input is refused before anything is queued; a failing batch fails each of its callers", async () => {
    const writer = createAuditWriter(handle.db);
    await expect(
      writer.attempt({ ...attemptInput(newUserId()), purpose: "marketing" as never }, APP_AUDIT),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(writer.stats.batches).toBe(0);

    const broken = await createTestDatabase();
    const failing = createAuditWriter(broken.db);
    await broken.close();
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => failing.attempt(attemptInput(newUserId(), "intercom", i), APP_AUDIT)),
    );
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(failing.stats.rows).toBe(0);
  });
});
