import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { AUDIT_KINDS } from "@propgate/domain";
import { and, asc, eq, isNotNull, sql } from "drizzle-orm";
import { canonicalAuditContent, sha256Hex } from "../src/audit-chain";
import { redactionDigest } from "../src/audit-redaction";
import { redactionMessage } from "../src/audit-signing";
import {
  AUDIT_TARGETS,
  type AuditEvent,
  type AuditWriter,
  appendAuditEvents,
  auditChainId,
  createAuditSigner,
  createAuditWriter,
  exportAuditCsv,
  generateAuditSigningKey,
  InvalidInputError,
  pageAuditEvents,
  redactAuditRows,
  verifyAuditChain,
} from "../src/index";
import { auditEvents, auditRedactions } from "../src/schema/index";
import { createTestDatabase, type TestDatabase, writeDoorOpens } from "../src/testing";
import { APP_AUDIT, rowsOf } from "./fixtures";

setDefaultTimeout(60_000);

const signer = createAuditSigner(generateAuditSigningKey());
const HOUR = 3_600_000;
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const opened: TestDatabase[] = [];
const writers: AuditWriter[] = [];
afterEach(async () => {
  await Promise.all(writers.splice(0).map((writer) => writer.close().catch(() => [])));
  await Promise.all(opened.splice(0).map((handle) => handle.close()));
});

/** The first millisecond after `at`: rows written from then on are newer than a cut at it. */
function justAfter(at: Date): Date {
  for (;;) {
    const now = Date.now();
    if (now > at.getTime()) return new Date(now);
  }
}

const verify = (handle: TestDatabase, now?: Date) =>
  verifyAuditChain(handle.db, { publicKey: signer.publicKey, ...(now ? { now } : {}) });

const reasonOf = (verdict: Awaited<ReturnType<typeof verify>>) =>
  verdict.ok ? "" : verdict.reason;

const byId = async (handle: TestDatabase, id: string) => {
  const [row] = await handle.db.select().from(auditEvents).where(eq(auditEvents.id, id));
  if (!row) throw new Error(`no audit row ${id}`);
  return row;
};

/** Whether `text` occurs anywhere in `audit_events` (every column, as JSON). */
async function foundInAudit(handle: TestDatabase, text: string): Promise<number> {
  const [row] = rowsOf(
    await handle.db.execute(
      sql`select count(*)::int as n from audit_events e where pg_catalog.row_to_json(e)::text like ${`%${text}%`}`,
    ),
  );
  return Number(row?.n);
}

interface Written {
  handle: TestDatabase;
  writer: AuditWriter;
  /** A door opener (the writer's chain) and a resident blocked by IP (the process chain). */
  oldUser: string;
  oldRows: { door: AuditEvent; block: AuditEvent; device: AuditEvent; bare: AuditEvent };
  cut: Date;
  newUser: string;
}

/**
 * Rows of both kinds of chain before the cut — door opens (user id, device target), a block on
 * an IP address (person target, client IP), a device upsert (client IP, device target), a row
 * with nothing personal — and door opens and a block after it. The writer's chain is signed by
 * checkpoints on both sides of the cut.
 */
async function written(): Promise<Written> {
  const handle = await createTestDatabase();
  opened.push(handle);
  const writer = createAuditWriter(handle.db, { signer });
  writers.push(writer);
  const oldUser = await writeDoorOpens(handle.db, writer, 3);
  await writer.checkpoint();
  const [block, device, bare] = await appendAuditEvents(handle.db, [
    {
      ...APP_AUDIT,
      kind: "block.placed",
      result: "ok",
      userId: oldUser,
      target: "ip:198.51.100.23",
      errorCode: "OPEN_FLOOD",
      // The request's trace: not personal, so the redaction keeps it (and its hash).
      traceId: TRACE_ID,
    },
    {
      ...APP_AUDIT,
      actor: "admin:adm_1",
      kind: "admin.devices.upsert",
      result: "ok",
      partner: "intercom",
      target: "door-test-1",
    },
    { sourceApp: "cli", instanceId: "cli-test", kind: "admin.devices.upsert", result: "ok" },
  ]);
  const [door] = await handle.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.userId, oldUser), eq(auditEvents.kind, "partner.request")))
    .orderBy(asc(auditEvents.seq))
    .limit(1);
  if (!block || !device || !bare || !door) throw new Error("rows not written");
  const [newest] = rowsOf(await handle.db.execute(sql`select max(at) as at from audit_events`));
  const cut = justAfter(new Date(String(newest?.at)));
  justAfter(cut);
  const newUser = await writeDoorOpens(handle.db, writer, 2);
  await appendAuditEvents(handle.db, [
    { ...APP_AUDIT, kind: "block.placed", result: "ok", target: "ip:198.51.100.99" },
  ]);
  await writer.checkpoint();
  return {
    handle,
    writer,
    oldUser,
    oldRows: { door: { ...door, at: door.at.toISOString() }, block, device, bare },
    cut,
    newUser,
  };
}

/** `written()`, its old rows redacted. */
async function redacted() {
  const setup = await written();
  const result = await redactAuditRows(setup.handle.db, { before: setup.cut, signer });
  return { ...setup, result };
}

describe("audit redaction", () => {
  test("rows older than the cut lose user id, client IP and a person's target; newer rows keep them; verify passes and counts them", async () => {
    const { handle, writer, oldUser, oldRows, cut, newUser, result } = await redacted();
    // Before the cut: 1 grant + 3 opens (user ids), the block, the upsert with a client IP.
    expect(result).toEqual({ rows: 6, records: 2 });

    const door = await byId(handle, oldRows.door.id);
    expect(door).toMatchObject({ userId: null, clientIp: null, target: "door-test-1" });
    expect(door.redactionId).toStartWith("red_");
    const block = await byId(handle, oldRows.block.id);
    expect(block).toMatchObject({
      userId: null,
      clientIp: null,
      target: null,
      result: "ok",
      traceId: TRACE_ID,
    });
    const device = await byId(handle, oldRows.device.id);
    // An admin acting is kept (accountability); a resident acting is their user id, removed.
    expect(device).toMatchObject({ clientIp: null, actor: "admin:adm_1", target: "door-test-1" });
    const [grantRow] = await handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.kind, "consent.grant"), isNotNull(auditEvents.redactionId)));
    expect(grantRow).toMatchObject({ userId: null, actor: null, purpose: "intercom" });
    // Nothing personal: left as it was, outside any record.
    const bare = await byId(handle, oldRows.bare.id);
    expect(bare.redactionId).toBeNull();
    expect(bare.hash).toBe(oldRows.bare.hash);

    // Newer rows keep their fields; the old resident is gone from the audit, the new one is not.
    const kept = await handle.db.select().from(auditEvents).where(eq(auditEvents.userId, newUser));
    expect(kept.length).toBe(3);
    expect(kept.every((row) => row.redactionId === null && row.at > cut)).toBe(true);
    expect(await foundInAudit(handle, oldUser)).toBe(0);
    expect(await foundInAudit(handle, "198.51.100.23")).toBe(0);
    expect(await foundInAudit(handle, APP_AUDIT.clientIp ?? "")).toBe(1); // the newer block

    const total = (await handle.db.select({ id: auditEvents.id }).from(auditEvents)).length;
    expect(await verify(handle)).toMatchObject({ ok: true, count: total, redacted: 6 });
    // Closed and read long after: every chain's end still holds with the redacted rows.
    await writer.close();
    expect(await verify(handle, new Date(Date.now() + HOUR))).toMatchObject({
      ok: true,
      redacted: 6,
    });

    // Each record is signed over its chain's rows and names the cut.
    const records = await handle.db.select().from(auditRedactions);
    expect(records.map((r) => [r.chainId, r.rows]).sort()).toEqual(
      [
        [auditChainId(), 3],
        [writer.chainId, 3],
      ].sort(),
    );
    expect(records.every((r) => r.before.getTime() === cut.getTime())).toBe(true);
  });

  test("the audit screen and the CSV export show redacted rows with the fields empty", async () => {
    const { handle, oldRows, newUser } = await redacted();
    const page = await pageAuditEvents(handle.db, { limit: 100 });
    const door = page.rows.find((row) => row.id === oldRows.door.id);
    expect(door).toMatchObject({ userId: null, clientIp: null, target: "door-test-1" });
    expect(door?.redactionId).toStartWith("red_");
    const csv = await exportAuditCsv(
      handle.db,
      {},
      { sourceApp: "admin", instanceId: "adm" },
      { clientIp: "whole" },
    );
    const line = csv.csv.split("\r\n").find((each) => each.includes(oldRows.door.id));
    expect(line).toContain("door-test-1");
    expect(csv.csv).toContain(newUser);
    expect(await verify(handle)).toMatchObject({ ok: true, redacted: 6 });
  });

  test("running again redacts nothing more; a row that already fails its hash is left for verify to name", async () => {
    const setup = await written();
    const { handle, oldRows } = setup;
    await handle.db
      .update(auditEvents)
      .set({ result: "denied" })
      .where(eq(auditEvents.id, oldRows.door.id));
    const first = await redactAuditRows(handle.db, { before: setup.cut, signer });
    expect(first).toEqual({ rows: 5, records: 2 });
    expect(await redactAuditRows(handle.db, { before: setup.cut, signer })).toEqual({
      rows: 0,
      records: 0,
    });
    const door = await byId(handle, oldRows.door.id);
    expect(door).toMatchObject({ redactionId: null, userId: setup.oldUser, result: "denied" });
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: door.seq });
    expect(reasonOf(verdict)).toBe("row content does not match its hash");
  });

  test("small batches sign one record per chain per batch; two runs at once never sign a row twice", async () => {
    const setup = await written();
    const { handle } = setup;
    const runs = await Promise.all([
      redactAuditRows(handle.db, { before: setup.cut, signer, batchSize: 2 }),
      redactAuditRows(handle.db, { before: setup.cut, signer, batchSize: 2 }),
    ]);
    expect(runs[0].rows + runs[1].rows).toBe(6);
    const records = await handle.db.select().from(auditRedactions);
    expect(records.length).toBe(runs[0].records + runs[1].records);
    expect(records.length).toBeGreaterThanOrEqual(3);
    expect(records.reduce((sum, record) => sum + record.rows, 0)).toBe(6);
    expect(await verify(handle)).toMatchObject({ ok: true, redacted: 6 });
  });

  // Two sessions at once: PGlite has one, so a second transaction would wait for the first.
  test.if(process.env.DATABASE_URL !== undefined)(
    "a writer appends while a redaction holds old rows locked",
    async () => {
      const setup = await written();
      const { handle } = setup;
      let appended = false;
      await handle.db.transaction(async (tx) => {
        await tx.execute(
          sql`select id from audit_events where at < ${setup.cut.toISOString()}::timestamptz for update`,
        );
        await writeDoorOpens(handle.db, setup.writer, 1, setup.newUser);
        appended = true;
      });
      expect(appended).toBe(true);
    },
  );

  test("a cut later than now is refused and nothing changes", async () => {
    const { handle } = await written();
    const future = new Date(Date.now() + HOUR);
    const refused = redactAuditRows(handle.db, { before: future, signer });
    await expect(refused).rejects.toBeInstanceOf(InvalidInputError);
    await expect(refused).rejects.toThrow("before: must not be later than now");
    await expect(
      redactAuditRows(handle.db, { before: new Date(0), signer, batchSize: 0 }),
    ).rejects.toThrow("batchSize");
    const touched = await handle.db
      .select({ id: auditEvents.id })
      .from(auditEvents)
      .where(isNotNull(auditEvents.redactionId));
    expect(touched).toEqual([]);
    expect(await handle.db.select().from(auditRedactions)).toEqual([]);
  });
});

describe("verify tells a redacted row from a tampered one", () => {
  const edits = {
    "its result edited": sql`result = 'denied'`,
    "a user id put back": sql`user_id = 'usr_put_back'`,
    "its redaction digest changed": sql`redacted_digest = repeat('0', 64)`,
  };
  for (const [edit, change] of Object.entries(edits)) {
    test(`a redacted row with ${edit} is named`, async () => {
      const { handle, oldRows } = await redacted();
      await handle.db.execute(sql`update audit_events set ${change} where id = ${oldRows.door.id}`);
      const verdict = await verify(handle);
      expect(verdict).toMatchObject({ ok: false, firstBadSeq: oldRows.door.seq });
      expect(reasonOf(verdict)).toBe("redacted row content does not match its redaction digest");
    });
  }

  test("an edit whose redaction digest is recomputed no longer matches the signed record", async () => {
    const { handle, oldRows } = await redacted();
    const door = await byId(handle, oldRows.door.id);
    await handle.db.execute(sql`update audit_events set result = 'denied' where id = ${door.id}`);
    await recomputeDigest(handle, door.id);
    const verdict = await verify(handle);
    expect(reasonOf(verdict)).toBe(
      `redaction record ${door.redactionId} of chain ${door.chainId} does not match its rows`,
    );
  });

  test("a row attached to an existing record by hand is found; so are records the key did not sign", async () => {
    const { handle, writer, newUser } = await redacted();
    const [record] = await handle.db
      .select()
      .from(auditRedactions)
      .where(eq(auditRedactions.chainId, writer.chainId));
    const [fresh] = await handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.userId, newUser))
      .orderBy(asc(auditEvents.seq))
      .limit(2)
      .offset(1);
    if (!record || !fresh) throw new Error("setup");
    await handle.db.execute(
      sql`update audit_events set user_id = null, redaction_id = ${record.id} where id = ${fresh.id}`,
    );
    await recomputeDigest(handle, fresh.id);
    expect(reasonOf(await verify(handle))).toStartWith(
      `redaction record ${record.id} of chain ${writer.chainId} does not match its rows`,
    );
    // The record re-signed by another key to cover it: its signature gives it away.
    const forger = createAuditSigner(generateAuditSigningKey());
    const rows = await handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.redactionId, record.id))
      .orderBy(asc(auditEvents.chainSeq));
    const forged = {
      ...record,
      rows: rows.length,
      digest: redactionDigest(rows.map((r) => ({ ...r, redactedDigest: r.redactedDigest ?? "" }))),
    };
    await handle.db
      .update(auditRedactions)
      .set({ ...forged, signature: forger.sign(redactionMessage(forged)), keyId: signer.keyId })
      .where(eq(auditRedactions.id, record.id));
    expect(reasonOf(await verify(handle))).toBe(
      `redaction record ${record.id} of chain ${writer.chainId} is not signed by the audit key`,
    );
    // Without the key the digests still hold, so a verifier without it is not fooled either way.
  });

  test("a redaction id that names no record is found", async () => {
    const { handle, newUser } = await redacted();
    const [fresh] = await handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.userId, newUser))
      .limit(1);
    if (!fresh) throw new Error("setup");
    await handle.db.execute(
      sql`update audit_events set user_id = null, redaction_id = 'red_made_up' where id = ${fresh.id}`,
    );
    await recomputeDigest(handle, fresh.id);
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: fresh.seq });
    expect(reasonOf(verdict)).toBe(
      `redaction record red_made_up of chain ${fresh.chainId} does not match its rows: there is no such record`,
    );
  });

  test("a user id nulled by hand on a whole row is tampering, not a redaction", async () => {
    const { handle, newUser } = await redacted();
    const [fresh] = await handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.userId, newUser))
      .limit(1);
    if (!fresh) throw new Error("setup");
    await handle.db.update(auditEvents).set({ userId: null }).where(eq(auditEvents.id, fresh.id));
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: fresh.seq });
    expect(reasonOf(verdict)).toBe("row content does not match its hash");
  });
});

test("every audit kind has a decision on whether its target is a person's", () => {
  expect(Object.keys(AUDIT_TARGETS).sort()).toEqual([...AUDIT_KINDS].sort());
  // The block's subject (a resident or an address) is a person's; a device is not.
  expect(AUDIT_TARGETS["block.placed"]).toBe("person");
  expect(AUDIT_TARGETS["partner.request"]).toBe("thing");
});

/** What a forger without the key can do: recompute a redacted row's digest as verify does. */
async function recomputeDigest(handle: TestDatabase, id: string) {
  const row = await byId(handle, id);
  const digest = sha256Hex(row.hash + canonicalAuditContent(row));
  await handle.db.update(auditEvents).set({ redactedDigest: digest }).where(eq(auditEvents.id, id));
}
