import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import { INSERT_ROWS_IF_GRANTED } from "../src/audit-writer";
import {
  ConsentRequiredError,
  countAuditEvents,
  createAuditWriter,
  createCallAuditWriter,
  InvalidInputError,
  listAuditEvents,
  revokeConsent,
  verifyAuditChain,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import {
  APP_AUDIT,
  attemptInput,
  expectConsentsReadByKey,
  grant,
  newUserId,
  plansOverManyConsents,
  sqlLiteral,
  waitFor,
} from "./fixtures";

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

/** The partner.response input for `attempt` of the call `input` began: a 503. */
function failedAnswer(input: ReturnType<typeof attemptInput>, attempt: number) {
  return {
    callId: input.callId,
    operation: input.operation,
    partner: input.partner,
    target: input.target,
    userId: input.userId,
    purpose: input.purpose,
    attempt,
    result: "error" as const,
    errorCode: "http_503",
    httpStatus: 503,
    latencyMs: 2,
  };
}

/** `n` attempts of `user`'s at once, on `writer`. */
const opener = (writer: ReturnType<typeof createAuditWriter>, user: string) => (n: number) =>
  Array.from({ length: n }, (_, i) => writer.attempt(attemptInput(user, "intercom", i), APP_AUDIT));

/**
 * Until `writer` is writing a batch of at least `rows` rows: it takes up its queue within a few
 * microtasks, so a bounded number of turns (an unbounded loop would starve the test's timeout).
 */
async function whileWriting(writer: ReturnType<typeof createAuditWriter>, rows: number) {
  for (let turn = 0; turn < 100; turn++) {
    if (writer.stats.writing >= rows) return;
    await Promise.resolve();
  }
  throw new Error(`the writer never took up a batch of ${rows} rows`);
}

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
    expect(writer.stats).toMatchObject({ batches: 30, rows: 30, gateRechecks: 0, pending: 0 });
  });

  test("under load a batch gathers as many callers as the last one carried; from idle it never waits", async () => {
    // A gathering window far longer than the test: only the callers arriving can end it early.
    const writer = createAuditWriter(handle.db, { gatherMs: 60_000 });
    const user = newUserId();
    await grant(handle.db, user, "intercom");
    const open = opener(writer, user);

    // From idle: a lone attempt goes at once (were it to wait, the test would time out).
    await open(1)[0];
    expect(writer.stats.batches).toBe(1);

    // Six callers at once make one batch; two more come while it is written.
    const first = open(6);
    await whileWriting(writer, 6);
    const second = open(2);
    await Promise.all(first);
    // The next batch waits for six: the two are queued, not being written (without gathering
    // the writer has taken them up by the time their predecessors' callers resume)…
    expect(writer.stats).toMatchObject({ batches: 2, pending: 2, writing: 0 });
    // …until four more come, and all six go in one statement.
    const third = open(4);
    await Promise.all([...second, ...third]);
    expect(writer.stats.batches).toBe(3);
    expect(writer.stats.rows).toBe(13);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });

  test("a gathering batch goes with fewer callers once its window ends", async () => {
    const writer = createAuditWriter(handle.db, { gatherMs: 30 });
    const user = newUserId();
    await grant(handle.db, user, "intercom");
    const open = opener(writer, user);
    const first = open(5);
    await whileWriting(writer, 5);
    const late = open(1);
    await Promise.all([...first, ...late]);
    expect(writer.stats.batches).toBe(2);
    expect(writer.stats.rows).toBe(6);
  });

  test("results are batched too, and an attempt after a revoke is denied", async () => {
    const writer = createAuditWriter(handle.db);
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const first = attemptInput(userId, "intercom", 1);
    expect(await outcome(writer.attempt(first, APP_AUDIT))).toHaveProperty("sent");
    for (const attempt of [1, 2, 3]) {
      writer.result(failedAnswer(first, attempt), APP_AUDIT);
    }
    await writer.flush();
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

  test("an answer's row rides with the next attempt's statement, or goes alone after the linger", async () => {
    const writer = createAuditWriter(handle.db, { resultLingerMs: 2_000 });
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const first = attemptInput(userId, "intercom", 1);
    await writer.attempt(first, APP_AUDIT);
    writer.result(failedAnswer(first, 1), APP_AUDIT);
    // One call at a time: the answer's row waits for the next attempt instead of its own batch.
    expect(writer.stats).toMatchObject({ batches: 1, rows: 1, pending: 1 });
    await writer.attempt(attemptInput(userId, "intercom", 2), APP_AUDIT);
    expect(writer.stats).toMatchObject({ batches: 2, rows: 3, pending: 0 });

    // No attempt follows: the row goes in on its own once the linger is over, without a flush.
    const quick = createAuditWriter(handle.db, { resultLingerMs: 30 });
    const second = attemptInput(userId, "intercom", 3);
    await quick.attempt(second, APP_AUDIT);
    quick.result(failedAnswer(second, 1), APP_AUDIT);
    const queuedAt = performance.now();
    const responses = () =>
      listAuditEvents(handle.db, { userId }).then(
        (rows) =>
          rows.filter((row) => row.callId === second.callId && row.kind === "partner.response")
            .length,
      );
    expect(await responses()).toBe(0);
    while ((await responses()) === 0) await Bun.sleep(5);
    expect(performance.now() - queuedAt).toBeGreaterThanOrEqual(25);
    expect(quick.stats).toMatchObject({ batches: 2, rows: 2, pending: 0 });
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });

  test("bad input is refused before anything is queued; a failing batch fails each of its callers", async () => {
    const writer = createAuditWriter(handle.db);
    await expect(
      writer.attempt({ ...attemptInput(newUserId()), purpose: "marketing" as never }, APP_AUDIT),
    ).rejects.toBeInstanceOf(InvalidInputError);
    // The context is checked too (once per context object), and so is a result's every field.
    await expect(
      writer.attempt(attemptInput(newUserId()), { ...APP_AUDIT, clientIp: "x".repeat(65) }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(() =>
      writer.result(
        {
          callId: "call_1",
          operation: "intercom.open",
          partner: "intercom",
          attempt: 1,
          result: "error",
          httpStatus: 999,
          latencyMs: 1,
        },
        APP_AUDIT,
      ),
    ).toThrow(InvalidInputError);
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

  test("a batch whose consents all hold is one statement; one revoked consent sends it the slow way", async () => {
    const writer = createAuditWriter(handle.db);
    const [a, b] = [newUserId(), newUserId()];
    await grant(handle.db, a, "intercom");
    await grant(handle.db, b, "intercom");
    await Promise.all(
      [a, b, a, b].map((userId, i) =>
        writer.attempt(attemptInput(userId, "intercom", i), APP_AUDIT),
      ),
    );
    expect(writer.stats).toMatchObject({ rows: 4, gateRechecks: 0 });
    await revokeConsent(
      handle.db,
      { userId: b, purpose: "intercom", channel: "app", method: "in_app_toggle", actor: b },
      APP_AUDIT,
    );
    const outcomes = await Promise.all(
      [a, b].map((userId, i) =>
        outcome(writer.attempt(attemptInput(userId, "intercom", i), APP_AUDIT)),
      ),
    );
    expect(outcomes[0]).toHaveProperty("sent");
    expect(outcomes[1]).toHaveProperty("denied");
    expect(writer.stats).toMatchObject({ rows: 6, gateRechecks: 1 });
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });

  test("the batch's consent check reads each pair by key, however many residents there are", async () => {
    const pairs = JSON.stringify([
      { user_id: "usr_plan2", purpose: "intercom" },
      { user_id: "usr_plan1", purpose: "intercom" },
    ]);
    const plans = await plansOverManyConsents(handle.db, "intercom", INSERT_ROWS_IF_GRANTED, [
      sqlLiteral("[]"),
      sqlLiteral(pairs),
      "2",
    ]);
    for (const plan of plans) expectConsentsReadByKey(plan);
  });

  test("an answer's row is not waited for; a failed batch is retried on a new chain, and rows still failing are reported lost", async () => {
    const errors: unknown[] = [];
    const lost: unknown[][] = [];
    const { promise: firstFailure, resolve: failedOnce } = Promise.withResolvers<void>();
    const writer = createAuditWriter(handle.db, {
      retryDelayMs: 5,
      resultTries: 3,
      onWriteError: (error) => {
        errors.push(error);
        failedOnce();
      },
      onRowsLost: (rows) => lost.push([...rows]),
    });
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const first = attemptInput(userId, "intercom", 1);
    await writer.attempt(first, APP_AUDIT);
    const chainBefore = writer.chainId;
    const result = (attempt: number) =>
      writer.result(
        {
          callId: first.callId,
          operation: first.operation,
          partner: first.partner,
          target: first.target,
          userId,
          purpose: "intercom",
          attempt,
          result: "success",
          httpStatus: 200,
          latencyMs: 1,
        },
        APP_AUDIT,
      );
    const responses = async () =>
      (await listAuditEvents(handle.db, { userId })).filter(
        (row) => row.callId === first.callId && row.kind === "partner.response",
      );

    // The table refuses answers' rows for a while (as an outage would): the row waits in memory.
    await handle.db.execute(
      sql.raw(
        `alter table audit_events add constraint test_refuse_responses check (kind <> 'partner.response') not valid`,
      ),
    );
    result(1);
    expect(writer.stats.pending).toBe(1);
    await firstFailure;
    expect(writer.stats.pending).toBe(1);
    expect(writer.chainId).not.toBe(chainBefore);
    expect(await responses()).toHaveLength(0);
    await handle.db.execute(
      sql.raw("alter table audit_events drop constraint test_refuse_responses"),
    );
    await writer.flush();
    expect((await responses()).map((row) => row.attempt)).toEqual([1]);
    expect(lost).toEqual([]);

    // Failing for good: given up after `resultTries` batches, and reported with the row.
    await handle.db.execute(
      sql.raw(
        `alter table audit_events add constraint test_refuse_responses check (kind <> 'partner.response') not valid`,
      ),
    );
    result(2);
    await writer.flush();
    await handle.db.execute(
      sql.raw("alter table audit_events drop constraint test_refuse_responses"),
    );
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject([{ kind: "partner.response", callId: first.callId, attempt: 2 }]);
    expect(writer.stats.pending).toBe(0);
    expect((await responses()).map((row) => row.attempt)).toEqual([1]);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });

  test("a refusal's row is written with the batch and its id returned", async () => {
    const writer = createAuditWriter(handle.db);
    const userId = newUserId();
    const eventId = await writer.denied(
      {
        userId,
        errorCode: "FORBIDDEN_DEVICE",
        operation: "intercom.open",
        target: "dev_x",
        purpose: "intercom",
      },
      APP_AUDIT,
    );
    const [row] = await listAuditEvents(handle.db, { userId });
    expect(row).toMatchObject({
      id: eventId,
      kind: "access.denied",
      errorCode: "FORBIDDEN_DEVICE",
      chainId: writer.chainId,
    });
  });
});

describe("an instance's call writer: attempts on one chain, answers on another", () => {
  /** `userId`'s rows of `kind`, oldest first. */
  const rowsOf = async (userId: string, kind: string) =>
    (await listAuditEvents(handle.db, { userId })).filter((row) => row.kind === kind).reverse();

  test("an attempt after an answer commits without the answer's row; answers go in together after the linger, stamped when queued", async () => {
    const writer = createCallAuditWriter(handle.db, { answerLingerMs: 300 });
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const first = attemptInput(userId, "intercom", 1);
    await writer.attempt(first, APP_AUDIT);
    const firstAnswerAt = Date.now();
    writer.result(failedAnswer(first, 1), APP_AUDIT);
    const queuedAt = performance.now();
    // The next call's attempt commits on its own: one more batch of one row, the answer waits.
    const second = attemptInput(userId, "intercom", 2);
    await writer.attempt(second, APP_AUDIT);
    expect(writer.stats).toMatchObject({ batches: 2, rows: 2, pending: 1 });
    writer.result(failedAnswer(second, 1), APP_AUDIT);
    expect(await rowsOf(userId, "partner.response")).toHaveLength(0);

    // Both answers, one batch, once the first one's linger is over, without a flush. Waited for
    // by the writer's own count: its rows are visible to another connection at their commit, a
    // moment before the writer has counted the batch.
    await waitFor("the answers' batch", async () => writer.stats.pending === 0);
    expect(performance.now() - queuedAt).toBeGreaterThanOrEqual(290);
    expect(writer.stats).toMatchObject({ batches: 3, rows: 4, pending: 0 });
    const answers = await rowsOf(userId, "partner.response");
    const requests = await rowsOf(userId, "partner.request");
    expect(answers.map((row) => row.callId)).toEqual([first.callId, second.callId]);
    // Their own chain, rows 1 and 2 of it; the requests are rows 1 and 2 of the other.
    expect(new Set(answers.map((row) => row.chainId)).size).toBe(1);
    expect(answers[0]?.chainId).not.toBe(writer.chainId);
    expect(requests.map((row) => [row.chainId, row.chainSeq])).toEqual([
      [writer.chainId, 1],
      [writer.chainId, 2],
    ]);
    // An answer's time is when it was queued, not when its batch went in 300 ms later.
    const firstAnswer = new Date(answers[0]?.at ?? 0).getTime();
    expect(firstAnswer).toBeGreaterThanOrEqual(firstAnswerAt - 1);
    expect(firstAnswer - firstAnswerAt).toBeLessThan(200);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });

  test("answers queued while their batch is written wait for the next linger, not a batch each", async () => {
    const writer = createCallAuditWriter(handle.db, { answerLingerMs: 150 });
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const calls = Array.from({ length: 6 }, (_, i) => attemptInput(userId, "intercom", i));
    await Promise.all(calls.map((call) => writer.attempt(call, APP_AUDIT)));
    const attemptBatches = writer.stats.batches;
    const [firstCall, ...others] = calls;
    if (!firstCall) throw new Error("no calls");
    writer.result(failedAnswer(firstCall, 1), APP_AUDIT);
    // The first answer's batch, once its linger is over; five more answers while it is written.
    while (writer.stats.writing === 0) await Bun.sleep(1);
    for (const call of others) writer.result(failedAnswer(call, 1), APP_AUDIT);
    while (writer.stats.writing > 0) await Bun.sleep(1);
    const firstDone = performance.now();
    expect(writer.stats).toMatchObject({ batches: attemptBatches + 1, pending: 5 });
    await waitFor("the five answers' batch", async () => writer.stats.pending === 0);
    expect(performance.now() - firstDone).toBeGreaterThanOrEqual(140);
    expect(writer.stats).toMatchObject({ batches: attemptBatches + 2, rows: 12 });
    await writer.close();
  });

  test("flush writes waiting answers at once, whatever their linger", async () => {
    const writer = createCallAuditWriter(handle.db, { answerLingerMs: 60_000 });
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const call = attemptInput(userId, "intercom", 1);
    await writer.attempt(call, APP_AUDIT);
    writer.result(failedAnswer(call, 1), APP_AUDIT);
    const started = performance.now();
    await writer.flush();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await rowsOf(userId, "partner.response")).toHaveLength(1);
    await writer.close();
  });

  test("a refusal goes on the attempts' chain and is committed before it resolves", async () => {
    const writer = createCallAuditWriter(handle.db);
    const userId = newUserId();
    const eventId = await writer.denied(
      { userId, operation: "intercom.open", target: "door-x", errorCode: "FORBIDDEN_DEVICE" },
      APP_AUDIT,
    );
    const [row] = await rowsOf(userId, "access.denied");
    expect(row).toMatchObject({ id: eventId, chainId: writer.chainId });
    await writer.close();
  });
});
