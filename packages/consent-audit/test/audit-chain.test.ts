import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import { openDatabase, registeredSnapshotReader } from "../src/database";
import {
  auditChainId,
  auditRowHash,
  chainGenesis,
  countAuditEvents,
  GENESIS_HASH,
  InvalidInputError,
  listAuditEvents,
  recordAuditEvent,
  recordPartnerAttempt,
  verifyAuditChain,
} from "../src/index";
import { auditEvents } from "../src/schema/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";
import { APP_AUDIT, attemptInput, grant, newUserId } from "./fixtures";

setDefaultTimeout(30_000);

const opened: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((handle) => handle.close()));
});

/** A fresh database with a chain of `n` rows (1 grant + n-1 partner requests). */
async function chainOf(n: number): Promise<TestDatabase> {
  const handle = await createTestDatabase();
  opened.push(handle);
  const userId = newUserId();
  await grant(handle.db, userId, "intercom");
  for (let i = 1; i < n; i++) {
    await recordPartnerAttempt(handle.db, attemptInput(userId), APP_AUDIT);
  }
  return handle;
}

describe("hash chain", () => {
  test("an empty chain verifies; rows link from the genesis hash", async () => {
    const handle = await createTestDatabase();
    opened.push(handle);
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 0 });
    const first = await recordAuditEvent(handle.db, {
      ...APP_AUDIT,
      kind: "partner.event",
      result: "ok",
    });
    const second = await recordAuditEvent(handle.db, {
      ...APP_AUDIT,
      kind: "partner.event",
      result: "ok",
    });
    // Rows of this process's chain, linked from the chain's own genesis.
    expect(first).toMatchObject({
      chainId: auditChainId(),
      chainSeq: 1,
      prevHash: chainGenesis(auditChainId()),
    });
    expect(first.prevHash).not.toBe(GENESIS_HASH);
    expect(second).toMatchObject({ chainSeq: 2, prevHash: first.hash });
    expect(second.seq).toBeGreaterThan(first.seq);
    const { prevHash, hash, seq: _seq, chainId: _chain, ...content } = second;
    expect(auditRowHash(prevHash, { ...content, at: new Date(content.at) })).toBe(hash);
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 2 });
  });

  test("a rolled-back transaction leaves no gap in the chain", async () => {
    const handle = await chainOf(2);
    await handle.db
      .transaction(async (tx) => {
        await recordAuditEvent(tx, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
        throw new Error("roll back");
      })
      .catch(() => undefined);
    await recordAuditEvent(handle.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
    const [last] = await listAuditEvents(handle.db, { limit: 1 });
    expect(last?.chainSeq).toBe(3);
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 3 });
  });

  test("the database's walk hashes awkward text, nulls and times exactly as the writer does", async () => {
    // verifyAuditChain recomputes every hash in SQL (row_to_json); the writer in JS
    // (JSON.stringify). Rows no writer could produce, hashed by the JS definition, must verify.
    const handle = await createTestDatabase();
    opened.push(handle);
    const chainId = "awkward/chain";
    const texts = [
      'quote " and \\ backslash',
      "tab\tnew\nline\r\u0001\u001f\u007f",
      "é ü ж 中文 😀 \u2028\u2029",
      "",
      "null",
    ];
    let prevHash = chainGenesis(chainId);
    const rows = texts.map((text, i) => {
      const content = {
        chainSeq: i + 1,
        id: `evt_awkward${i}`,
        at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, i * 7)),
        kind: "partner.event" as const,
        sourceApp: text,
        instanceId: text,
        clientIp: i % 2 ? text : null,
        requestId: i % 2 ? null : text,
        userId: text,
        actor: text,
        operation: null,
        partner: null,
        purpose: null,
        target: text,
        attempt: i % 2 ? null : i,
        result: text,
        errorCode: text,
        httpStatus: i % 2 ? 599 : null,
        latencyMs: i * 86_400_000,
        callId: text,
        // An admin's reason is hashed where present (a key of its own), left out where null.
        reason: i % 2 ? null : text,
        // Likewise the trace id, in every combination with the reason.
        traceId: i % 4 < 2 ? null : `${i}`.padStart(32, "a"),
      };
      const hash = auditRowHash(prevHash, content);
      const row = { ...content, chainId, prevHash, hash };
      prevHash = hash;
      return row;
    });
    await handle.db.insert(auditEvents).values(rows);
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: texts.length });
    await handle.db.execute(
      sql`update audit_events set target = target || ' ' where chain_seq = 3`,
    );
    expect(await verifyAuditChain(handle.db)).toMatchObject({
      ok: false,
      reason: "row content does not match its hash",
    });
  });

  test("a trace id is part of the row's hash: edited, removed or added, it is found", async () => {
    for (const tamper of [
      sql`update audit_events set trace_id = repeat('b', 32) where trace_id is not null`,
      sql`update audit_events set trace_id = null where trace_id is not null`,
      sql`update audit_events set trace_id = repeat('c', 32) where trace_id is null and chain_seq = 1`,
    ]) {
      const handle = await createTestDatabase();
      opened.push(handle);
      await recordAuditEvent(handle.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const row = await recordAuditEvent(handle.db, {
        ...APP_AUDIT,
        traceId,
        kind: "partner.event",
        result: "ok",
      });
      expect(row.traceId).toBe(traceId);
      expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 2 });
      await handle.db.execute(tamper);
      expect(await verifyAuditChain(handle.db)).toMatchObject({
        ok: false,
        reason: "row content does not match its hash",
      });
    }
  });

  test("a trace id that is not 32 hex is refused before anything is written", async () => {
    const handle = await createTestDatabase();
    opened.push(handle);
    await expect(
      recordAuditEvent(handle.db, {
        ...APP_AUDIT,
        traceId: "not-a-trace",
        kind: "partner.event",
        result: "ok",
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 0 });
  });

  test("an admin's reason is part of the row's hash: edited, removed or added, it is found", async () => {
    for (const tamper of [
      sql`update audit_events set reason = 'a better story' where reason is not null`,
      sql`update audit_events set reason = null where reason is not null`,
      sql`update audit_events set reason = 'made up' where reason is null and chain_seq = 1`,
    ]) {
      const handle = await createTestDatabase();
      opened.push(handle);
      await recordAuditEvent(handle.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
      const admin = { ...APP_AUDIT, actor: "adm_1", reason: 'lifted: "wrong" block, see ticket' };
      const row = await recordAuditEvent(handle.db, {
        ...admin,
        kind: "admin.blocks.lift",
        result: "ok",
      });
      expect(row.reason).toBe(admin.reason);
      expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 2 });
      await handle.db.execute(tamper);
      expect(await verifyAuditChain(handle.db)).toMatchObject({
        ok: false,
        reason: "row content does not match its hash",
      });
    }
  });

  test("names the first bad row in chain order when several are bad", async () => {
    const handle = await chainOf(6);
    await handle.db.execute(sql`update audit_events set result = 'success' where seq = 5`);
    await handle.db.execute(sql`delete from audit_events where seq = 3`);
    const verdict = await verifyAuditChain(handle.db);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 4 });
    if (!verdict.ok) expect(verdict.reason).toContain("seq 3 is missing");
  });

  test("detects an edited row (UPDATE)", async () => {
    const handle = await chainOf(5);
    await handle.db.execute(sql`update audit_events set result = 'success' where seq = 3`);
    expect(await verifyAuditChain(handle.db)).toEqual({
      ok: false,
      firstBadSeq: 3,
      reason: "row content does not match its hash",
    });
  });

  test("detects an edited timestamp", async () => {
    const handle = await chainOf(4);
    await handle.db.execute(sql`update audit_events set at = at - interval '1 hour' where seq = 2`);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBadSeq: 2 });
  });

  test("detects a deleted middle row (DELETE)", async () => {
    const handle = await chainOf(5);
    await handle.db.execute(sql`delete from audit_events where seq = 3`);
    const verdict = await verifyAuditChain(handle.db);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 4 });
    if (!verdict.ok) expect(verdict.reason).toContain("seq 3 is missing");
  });

  test("detects a deleted row even when later rows are renumbered to close the gap", async () => {
    const handle = await chainOf(5);
    await handle.db.execute(sql`delete from audit_events where seq = 3`);
    await handle.db.execute(sql`update audit_events set chain_seq = chain_seq - 1 where seq > 3`);
    const verdict = await verifyAuditChain(handle.db);
    // The row that now sits in the gap (seq 4) does not link to the one before it.
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 4 });
  });

  test("detects an inserted forged row", async () => {
    const handle = await chainOf(3);
    const [last] = await listAuditEvents(handle.db, { limit: 1 });
    await handle.db.execute(sql`
      insert into audit_events (seq, chain_id, chain_seq, id, at, kind, source_app, instance_id,
                                user_id, result, prev_hash, hash)
      values (4, ${auditChainId()}, 4, 'evt_forged00000000000000', now(), 'partner.request',
              'api', 'api-1', 'usr_x', 'pending', ${last?.hash ?? ""}, ${"f".repeat(64)})`);
    expect(await verifyAuditChain(handle.db)).toEqual({
      ok: false,
      firstBadSeq: 4,
      reason: "row content does not match its hash",
    });
  });

  test("detects a forged row slipped in before the first row", async () => {
    const handle = await chainOf(3);
    await handle.db.execute(sql`
      insert into audit_events (seq, chain_id, chain_seq, id, at, kind, source_app, instance_id,
                                result, prev_hash, hash)
      values (0, ${auditChainId()}, 0, 'evt_forged00000000000001', now(), 'consent.grant', 'api',
              'api-1', 'ok', ${chainGenesis(auditChainId())}, ${"0".repeat(64)})`);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBadSeq: 0 });
  });

  test("detects a forged row inserted in the middle with the chain renumbered", async () => {
    const handle = await chainOf(4);
    await handle.db.execute(
      sql`update audit_events set chain_seq = chain_seq + 100 where chain_seq >= 3`,
    );
    await handle.db.execute(
      sql`update audit_events set chain_seq = chain_seq - 99 where chain_seq >= 103`,
    );
    const [second] = await handle.db.select().from(auditEvents).where(sql`${auditEvents.seq} = 2`);
    await handle.db.execute(sql`
      insert into audit_events (seq, chain_id, chain_seq, id, at, kind, source_app, instance_id,
                                result, prev_hash, hash)
      values (103, ${auditChainId()}, 3, 'evt_forged00000000000002', now(), 'consent.grant', 'api',
              'api-1', 'ok', ${second?.hash ?? ""}, ${"0".repeat(64)})`);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBadSeq: 103 });
  });
});

describe("listAuditEvents and countAuditEvents", () => {
  test("filter, page newest first, and cap the limit at 500", async () => {
    const handle = await chainOf(6);
    expect(await countAuditEvents(handle.db)).toBe(6);
    expect(await countAuditEvents(handle.db, { kind: "partner.request" })).toBe(5);
    const page1 = await listAuditEvents(handle.db, { kind: "partner.request", limit: 2 });
    expect(page1.map((e) => e.seq)).toEqual([6, 5]);
    const page2 = await listAuditEvents(handle.db, {
      kind: "partner.request",
      limit: 2,
      beforeSeq: 5,
    });
    expect(page2.map((e) => e.seq)).toEqual([4, 3]);
    expect(await listAuditEvents(handle.db, { operation: "health" })).toEqual([]);
    await expect(listAuditEvents(handle.db, { limit: 501 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(listAuditEvents(handle.db, { limit: 0 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });

  test("recordAuditEvent rejects malformed events and writes nothing", async () => {
    const handle = await chainOf(1);
    await expect(
      // @ts-expect-error: a kind outside the vocabulary, as a caller bypassing the types would send
      recordAuditEvent(handle.db, { ...APP_AUDIT, kind: "Bad Kind", result: "ok" }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      recordAuditEvent(handle.db, {
        ...APP_AUDIT,
        kind: "partner.event",
        result: "ok",
        httpStatus: 42,
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await countAuditEvents(handle.db)).toBe(1);
  });

  test("the database refuses a kind, operation, partner or purpose outside the vocabulary", async () => {
    const handle = await chainOf(1);
    /** The constraint that refused a hand-written row (the driver's message), or "accepted". */
    const refusal = async (column: "kind" | "operation" | "partner" | "purpose", value: string) => {
      const row: Record<typeof column, string | null> = {
        kind: "partner.event",
        operation: null,
        partner: null,
        purpose: null,
      };
      row[column] = value;
      const { kind, operation, partner, purpose } = row;
      try {
        await handle.db.execute(sql`
          insert into audit_events (seq, chain_id, chain_seq, id, at, kind, operation, partner,
                                    purpose, source_app, instance_id, result, prev_hash, hash)
          values (2, 'forged', 1, ${`evt_check_${column}`}, now(), ${kind}, ${operation},
                  ${partner}, ${purpose}, 'api', 'api-1', 'ok', ${GENESIS_HASH}, ${"0".repeat(64)})`);
        return "accepted";
      } catch (error) {
        const cause = error instanceof Error ? error.cause : undefined;
        return cause instanceof Error ? cause.message : String(error);
      }
    };
    expect(await refusal("kind", "test.event")).toContain("audit_events_kind_ck");
    expect(await refusal("operation", "drop.everything")).toContain("audit_events_operation_ck");
    expect(await refusal("partner", "acme")).toContain("audit_events_partner_ck");
    expect(await refusal("purpose", "marketing")).toContain("audit_events_purpose_ck");
    expect(await countAuditEvents(handle.db)).toBe(1);
  });
});

const onPostgres = process.env.DATABASE_URL !== undefined;
if (!onPostgres) {
  console.log(
    "[skip] verify's link walk on a second connection: needs PostgreSQL (set DATABASE_URL); PGlite has one connection",
  );
}

describe.if(onPostgres)(
  "verifyAuditChain on PostgreSQL: the link walk on a second connection",
  () => {
    test("reads the exporting transaction's snapshot, not rows committed since", async () => {
      const handle = await chainOf(3);
      const reader = registeredSnapshotReader(handle.db);
      if (!reader) throw new Error("a pool of 10 registers a snapshot reader");
      const counted = await handle.db.transaction(
        async (tx) => {
          const [row] = (await tx.execute(
            sql`select pg_catalog.pg_export_snapshot() as snapshot`,
          )) as unknown as { snapshot: string }[];
          // Committed by another connection after the snapshot was taken.
          await recordAuditEvent(handle.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
          return reader<{ count: number }>(
            row?.snapshot ?? "",
            [],
            "select count(*)::float8 as count from audit_events",
          );
        },
        { isolationLevel: "repeatable read", accessMode: "read only" },
      );
      expect(counted).toEqual([{ count: 3 }]);
      expect(await countAuditEvents(handle.db)).toBe(4);
      expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 4 });
    });

    test("a pool of one connection has one too: the reader's connection is not of that pool", async () => {
      const handle = await chainOf(2);
      if (!handle.url) throw new Error("a PostgreSQL test database has a url");
      const single = await openDatabase({ url: handle.url, max: 1 });
      try {
        expect(registeredSnapshotReader(single.db)).toBeFunction();
        await single.db.execute(sql`delete from audit_events where chain_seq = 1`);
        const verdict = await verifyAuditChain(single.db);
        expect(verdict).toMatchObject({ ok: false, firstBadSeq: 2 });
        if (!verdict.ok) expect(verdict.reason).toContain("seq 1 is missing");
      } finally {
        await single.close();
      }
    });
  },
);
