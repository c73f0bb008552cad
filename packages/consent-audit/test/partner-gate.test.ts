import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import {
  ConsentRequiredError,
  countAuditEvents,
  type Database,
  type DatabaseHandle,
  InvalidInputError,
  listAuditEvents,
  lockAuditChain,
  openDatabase,
  recordDenied,
  recordPartnerAttempt,
  recordPartnerResult,
  revokeConsent,
  verifyAuditChain,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { APP_AUDIT, attemptInput, firstRow, grant, newUserId, waitFor } from "./fixtures";

setDefaultTimeout(60_000);

const handle = await createTestDatabase();
afterAll(() => handle.close());

const extraHandles: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(extraHandles.splice(0).map((h) => h.close()));
});

function revokeInput(userId: string, purpose: "intercom" | "barrier" = "intercom") {
  return { userId, purpose, channel: "app", method: "in_app_toggle", actor: userId } as const;
}

describe("recordPartnerAttempt", () => {
  test("with consent writes a pending partner.request row and returns its id", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const input = attemptInput(userId);
    const eventId = await recordPartnerAttempt(handle.db, input, APP_AUDIT);
    const [row] = await listAuditEvents(handle.db, { userId, kind: "partner.request" });
    expect(row).toMatchObject({
      id: eventId,
      result: "pending",
      operation: "intercom.open",
      partner: "intercom",
      purpose: "intercom",
      target: "dev_door_1",
      attempt: 0,
      callId: input.callId,
      sourceApp: "api",
      instanceId: "api-test-1",
      clientIp: "203.0.113.7",
      requestId: "req_test",
    });
  });

  test("without consent throws ConsentRequiredError, writes access.denied and no partner.request", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "barrier"); // another purpose does not count
    const error = await recordPartnerAttempt(handle.db, attemptInput(userId), APP_AUDIT).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConsentRequiredError);
    expect((error as ConsentRequiredError).code).toBe("CONSENT_REQUIRED");
    expect(await listAuditEvents(handle.db, { userId, kind: "partner.request" })).toEqual([]);
    const [denied] = await listAuditEvents(handle.db, { userId, kind: "access.denied" });
    expect(denied).toMatchObject({
      id: (error as ConsentRequiredError).eventId,
      result: "denied",
      errorCode: "CONSENT_REQUIRED",
      operation: "intercom.open",
    });
  });

  test("a committed revoke denies the next attempt", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    await recordPartnerAttempt(handle.db, attemptInput(userId), APP_AUDIT);
    await revokeConsent(handle.db, revokeInput(userId), APP_AUDIT);
    await expect(
      recordPartnerAttempt(handle.db, attemptInput(userId), APP_AUDIT),
    ).rejects.toBeInstanceOf(ConsentRequiredError);
    expect(await listAuditEvents(handle.db, { userId, kind: "partner.request" })).toHaveLength(1);
  });

  test.if(process.env.DATABASE_URL !== undefined)(
    "a revoke on one instance denies the next attempt on another (PostgreSQL)",
    async () => {
      const other = await openDatabase({ url: handle.url ?? "", max: 2 });
      extraHandles.push(other);
      const userId = newUserId();
      await grant(handle.db, userId, "barrier");
      await recordPartnerAttempt(other.db, attemptInput(userId, "barrier"), APP_AUDIT);
      await revokeConsent(handle.db, revokeInput(userId, "barrier"), APP_AUDIT);
      await expect(
        recordPartnerAttempt(other.db, attemptInput(userId, "barrier"), APP_AUDIT),
      ).rejects.toBeInstanceOf(ConsentRequiredError);
    },
  );

  test("rejects bad input before touching the database", async () => {
    const before = await countAuditEvents(handle.db);
    const bad = { ...attemptInput(newUserId()), purpose: "everything" };
    await expect(
      recordPartnerAttempt(handle.db, bad as unknown as ReturnType<typeof attemptInput>, APP_AUDIT),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await countAuditEvents(handle.db)).toBe(before);
  });

  test("a database failure propagates (the caller must not call the partner)", async () => {
    const broken = await createTestDatabase();
    await broken.close();
    await expect(
      recordPartnerAttempt(broken.db, attemptInput(newUserId()), APP_AUDIT),
    ).rejects.toBeDefined();
  });
});

describe("concurrency", () => {
  test.if(handle.url !== undefined)(
    "instances share no lock: an attempt meeting another instance's uncommitted revoke waits on the consent row only, then is denied",
    async () => {
      const userId = newUserId();
      await grant(handle.db, userId, "intercom");
      // The other instance is another process: it holds its own chain lock and the row.
      const holder = Bun.spawn(
        [
          process.execPath,
          `${import.meta.dir}/fixtures/revoke-holder.ts`,
          handle.url ?? "",
          userId,
        ],
        { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
      );
      const lines = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      expect((await lines.read()).value?.trim()).toBe("holding");
      const attempt = recordPartnerAttempt(handle.db, attemptInput(userId), APP_AUDIT).then(
        () => "sent",
        (err: unknown) => (err instanceof ConsentRequiredError ? "denied" : Promise.reject(err)),
      );
      // pg_locks is the whole server's: other test files' writers wait on advisory locks of their
      // own databases, so those count only in this one (a transaction id belongs to no database).
      const waiting = async (locktype: string) =>
        Number(
          firstRow(
            await handle.db.execute(
              sql`select count(*)::int as n from pg_locks where not granted and locktype = ${locktype}
                  and (locktype <> 'advisory'
                    or database = (select oid from pg_database where datname = current_database()))`,
            ),
          )?.n,
        );
      await waitFor("the attempt to wait on the consent row", async () => {
        return (await waiting("transactionid")) + (await waiting("tuple")) > 0;
      });
      // Not on a lock of the audit chain: the other instance's chain is not this one's.
      expect(await waiting("advisory")).toBe(0);
      holder.stdin.write("commit\n");
      holder.stdin.end();
      expect(await holder.exited).toBe(0);
      expect(await attempt).toBe("denied");
    },
  );

  test("attempts queued before a revoke are sent, those after it are denied", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const attempt = (i: number) =>
      recordPartnerAttempt(handle.db, attemptInput(userId, "intercom", i), APP_AUDIT).then(
        () => "sent" as const,
        (err: unknown) => {
          if (err instanceof ConsentRequiredError) return "denied" as const;
          throw err;
        },
      );
    const revoke = (db: Database) => revokeConsent(db, revokeInput(userId), APP_AUDIT);
    let outcomes: ("sent" | "denied")[];

    if (handle.url === undefined) {
      // PGlite runs transactions one at a time, in call order.
      const before = Array.from({ length: 40 }, (_, i) => attempt(i));
      const revoked = revoke(handle.db);
      const after = Array.from({ length: 40 }, (_, i) => attempt(40 + i));
      outcomes = await Promise.all([...before, ...after]);
      await revoked;
      expect(outcomes.filter((o) => o === "sent")).toHaveLength(40);
    } else {
      // Two instances. Instance B holds the chain lock while the queue forms: the 10 attempts
      // that hold a pooled connection, then B's revoke, then 30 more attempts.
      const instanceB = await openDatabase({ url: handle.url, max: 3 });
      extraHandles.push(instanceB);
      const waiters = async () =>
        Number(
          firstRow(
            await instanceB.db.execute(
              sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted
                  and database = (select oid from pg_database where datname = current_database())`,
            ),
          )?.n,
        );
      const locked = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      const blocker = instanceB.db.transaction(async (tx) => {
        await lockAuditChain(tx);
        locked.resolve();
        await release.promise;
      });
      await locked.promise;
      const first = Array.from({ length: 10 }, (_, i) => attempt(i));
      await waitFor("10 attempts queued on the chain lock", async () => (await waiters()) === 10);
      const revoked = revoke(instanceB.db);
      await waitFor("the revoke queued behind them", async () => (await waiters()) === 11);
      const rest = Array.from({ length: 30 }, (_, i) => attempt(10 + i));
      release.resolve();
      await blocker;
      outcomes = await Promise.all([...first, ...rest]);
      await revoked;
      expect(outcomes.filter((o) => o === "sent")).toHaveLength(10);
    }

    // Once the revoke has returned, every attempt is denied, on every instance.
    await expect(
      recordPartnerAttempt(handle.db, attemptInput(userId), APP_AUDIT),
    ).rejects.toBeInstanceOf(ConsentRequiredError);
    const [revokeRow] = await listAuditEvents(handle.db, { userId, kind: "consent.revoke" });
    const requests = await listAuditEvents(handle.db, {
      userId,
      kind: "partner.request",
      limit: 500,
    });
    const denials = await listAuditEvents(handle.db, { userId, kind: "access.denied", limit: 500 });
    expect(requests.length).toBe(outcomes.filter((o) => o === "sent").length);
    expect(denials.length).toBe(outcomes.filter((o) => o === "denied").length + 1);
    for (const request of requests) expect(request.seq).toBeLessThan(revokeRow?.seq ?? 0);
    for (const denial of denials) expect(denial.seq).toBeGreaterThan(revokeRow?.seq ?? 0);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });
});

describe("recordPartnerResult and recordDenied", () => {
  test("a partner.response row closes the request with the same call id", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    const input = attemptInput(userId);
    await recordPartnerAttempt(handle.db, input, APP_AUDIT);
    await recordPartnerResult(
      handle.db,
      {
        callId: input.callId,
        operation: input.operation,
        partner: input.partner,
        target: input.target,
        userId,
        attempt: 0,
        result: "error",
        errorCode: "PARTNER_UNAVAILABLE",
        httpStatus: 503,
        latencyMs: 1234,
      },
      APP_AUDIT,
    );
    const rows = await listAuditEvents(handle.db, { userId, operation: "intercom.open" });
    expect(rows.map((r) => [r.kind, r.callId])).toEqual([
      ["partner.response", input.callId],
      ["partner.request", input.callId],
    ]);
    expect(rows[0]).toMatchObject({ result: "error", httpStatus: 503, latencyMs: 1234 });
  });

  test("a partner's answer in prose still gets its row, with the code normalised", async () => {
    const userId = newUserId();
    const callId = `call_${crypto.randomUUID()}`;
    await recordPartnerResult(
      handle.db,
      {
        callId,
        operation: "plates.add",
        partner: "barrier",
        target: "site-a",
        userId,
        purpose: "plates",
        attempt: 1,
        result: "error",
        errorCode: "plate A123BC77 exists for this site",
        httpStatus: 409,
        latencyMs: 3,
      },
      APP_AUDIT,
    );
    const [row] = await listAuditEvents(handle.db, { userId });
    expect(row).toMatchObject({ kind: "partner.response", errorCode: "http_409", callId });
  });

  test("recordDenied writes an access.denied row", async () => {
    const userId = newUserId();
    const id = await recordDenied(
      handle.db,
      { errorCode: "FORBIDDEN_DEVICE", userId, operation: "intercom.open", target: "dev_other" },
      APP_AUDIT,
    );
    const [row] = await listAuditEvents(handle.db, { userId });
    expect(row).toMatchObject({
      id,
      kind: "access.denied",
      result: "denied",
      errorCode: "FORBIDDEN_DEVICE",
    });
  });
});
