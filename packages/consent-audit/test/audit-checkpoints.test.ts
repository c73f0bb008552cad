import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import {
  type AuditCheckpoint,
  type AuditWriter,
  type AuditWriterOptions,
  auditChainId,
  auditRowHash,
  chainGenesis,
  checkpointMessage,
  createAuditSigner,
  createAuditWriter,
  generateAuditSigningKey,
  LEGACY_CHAIN,
  type LoggedCheckpoint,
  verifyAuditChain,
} from "../src/index";
import { auditCheckpoints, auditEvents } from "../src/schema/index";
import {
  appendUnsignedRows,
  createTestDatabase,
  cutChainAfter,
  deleteClosingCheckpoint,
  type TestDatabase,
  writeDoorOpens,
} from "../src/testing";
import { APP_AUDIT, attemptInput, grant, Inbox, newUserId } from "./fixtures";

setDefaultTimeout(60_000);

const signer = createAuditSigner(generateAuditSigningKey());
const HOUR = 3_600_000;
const opened: TestDatabase[] = [];
const writers: AuditWriter[] = [];
afterEach(async () => {
  // Writers first: closing signs in their databases.
  await Promise.all(writers.splice(0).map((writer) => writer.close().catch(() => [])));
  await Promise.all(opened.splice(0).map((handle) => handle.close()));
});

async function database() {
  const handle = await createTestDatabase();
  opened.push(handle);
  return handle;
}

/** A writer with the audit key; `logged` receives every checkpoint, as the log stream does. */
function signingWriter(handle: TestDatabase, options: AuditWriterOptions = {}) {
  const logged = new Inbox<AuditCheckpoint>();
  const writer = createAuditWriter(handle.db, { signer, onCheckpoint: logged.push, ...options });
  writers.push(writer);
  return { writer, logged };
}

const verify = (
  handle: TestDatabase,
  options: { now?: Date; logged?: readonly LoggedCheckpoint[] } = {},
) => verifyAuditChain(handle.db, { publicKey: signer.publicKey, ...options });

/** The verifier's clock an hour on: every chain that is not closed has gone quiet by then. */
const anHourOn = () => new Date(Date.now() + HOUR);

const asLogged = (checkpoints: readonly AuditCheckpoint[]): LoggedCheckpoint[] =>
  checkpoints.map(({ id: _id, ...checkpoint }, i) => ({ ...checkpoint, line: i + 1 }));

const reasonOf = (verdict: Awaited<ReturnType<typeof verify>>) =>
  verdict.ok ? "" : verdict.reason;

describe("signed checkpoints", () => {
  test("an untouched log verifies, live chains between checkpoints included; each checkpoint also goes to the log stream", async () => {
    const handle = await database();
    const { writer, logged } = signingWriter(handle);
    // The grant goes on the process chain, signed in its own transaction (no checkpoint yet);
    // the attempts on the writer's chain, opened by a checkpoint of its genesis (seq 0).
    await writeDoorOpens(handle.db, writer, 3);
    const processChain = await logged.take("the process chain's checkpoint", (checkpoint) => {
      return checkpoint.chainId === auditChainId();
    });
    expect(processChain).toMatchObject({ chainSeq: 1, closing: false, intervalMs: 10_000 });
    const opening = await logged.take("the writer's opening", (c) => c.chainId === writer.chainId);
    expect(opening).toMatchObject({ chainSeq: 0, headHash: chainGenesis(writer.chainId) });
    // Rows 1-3 of the writer's chain are not signed yet: live, younger than two intervals.
    expect(await verify(handle)).toMatchObject({ ok: true, count: 4 });

    // Signed now where they moved (the writer's chain); then nothing is due anywhere.
    const now = await writer.checkpoint();
    expect(now.map((checkpoint) => [checkpoint.chainId, checkpoint.chainSeq])).toEqual([
      [writer.chainId, 3],
    ]);
    expect(await writer.checkpoint()).toEqual([]);
    expect(await verify(handle)).toMatchObject({ ok: true, count: 4 });

    // Stopped: both chains closed where they end, and read as ended long after.
    const closing = await writer.close();
    expect(closing.map((c) => [c.chainId, c.chainSeq, c.closing])).toEqual([
      [writer.chainId, 3, true],
      [auditChainId(), 1, true],
    ]);
    expect(await verify(handle, { now: anHourOn() })).toMatchObject({ ok: true, count: 4 });
    const stored = await handle.db.select().from(auditCheckpoints);
    expect(logged.items.map((c) => c.id).sort()).toEqual(stored.map((c) => c.id).sort());
    await expect(writer.attempt(attemptInput(newUserId()), APP_AUDIT)).rejects.toThrow(
      "the audit writer is closed",
    );
  });

  test("new rows are signed within the interval, a heartbeat while idle, and a chain that stops signing is no longer live", async () => {
    const handle = await database();
    const { writer, logged } = signingWriter(handle, { checkpointEveryMs: 40, heartbeatMs: 150 });
    const userId = await writeDoorOpens(handle.db, writer, 1);
    const signed = await logged.take(
      "row 1 signed",
      (c) => c.chainId === writer.chainId && c.chainSeq === 1,
    );
    const heartbeat = await logged.take(
      "a heartbeat",
      (c) => c.chainId === writer.chainId && c.chainSeq === 1 && c.at > signed.at,
    );
    expect(heartbeat.at.getTime() - signed.at.getTime()).toBeGreaterThanOrEqual(150);
    await writeDoorOpens(handle.db, writer, 1, userId);
    const second = await logged.take(
      "row 2 signed",
      (c) => c.chainId === writer.chainId && c.chainSeq === 2,
    );
    // The verifier's clock as the row was signed: the verify's own time on a loaded machine is
    // not taken for the chains' silence.
    expect(await verify(handle, { now: second.at })).toMatchObject({ ok: true });

    // The same chain as a verifier sees it once its writer went quiet without closing it.
    const later = await verify(handle, { now: anHourOn() });
    expect(reasonOf(later)).toContain(
      `chain ${writer.chainId} ended without a closing checkpoint: a crash or a cut`,
    );
    await writer.close();
    expect(await verify(handle, { now: anHourOn() })).toMatchObject({ ok: true });
  });

  test("cutting a chain's newest rows and the checkpoints past the cut is detected, naming the chain; within its live window only the log stream shows it", async () => {
    const handle = await database();
    const { writer, logged } = signingWriter(handle);
    const userId = await writeDoorOpens(handle.db, writer, 3);
    await writer.checkpoint();
    await writeDoorOpens(handle.db, writer, 3, userId);
    await writer.close();
    await cutChainAfter(handle.db, writer.chainId, 3);
    const verdict = await verify(handle, { now: anHourOn() });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: null });
    expect(reasonOf(verdict)).toStartWith(
      `chain ${writer.chainId} ended without a closing checkpoint: a crash or a cut (its newest checkpoint: seq 3,`,
    );
    // Just after the cut the chain looks like one still being written: live for two heartbeats.
    expect(await verify(handle)).toMatchObject({ ok: true });
    const withStream = await verify(handle, { logged: asLogged(logged.items) });
    expect(reasonOf(withStream)).toMatch(
      new RegExp(
        `^chain ${writer.chainId.replaceAll(".", "\\.")}: the log stream holds its signed (closing )?checkpoint at seq 6 .* that the database lacks, and its rows from seq 4 on: a cut$`,
      ),
    );
  });

  test("a self-consistent forged chain with no checkpoint is detected, naming it", async () => {
    const handle = await database();
    const { writer } = signingWriter(handle);
    await writeDoorOpens(handle.db, writer, 2);
    await appendUnsignedRows(handle.db, "forged/1/x/w1.0", 3);
    // The hash chain alone is fooled; the end rules are not.
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: null });
    expect(reasonOf(verdict)).toBe(
      "chain forged/1/x/w1.0 has 3 row(s) and no signed checkpoint: the audit key never signed it (a chain inserted, or written without the key)",
    );
  });

  test("deleting a stopped chain's closing checkpoint is detected, naming the chain", async () => {
    const handle = await database();
    const { writer } = signingWriter(handle);
    await writeDoorOpens(handle.db, writer, 3);
    await writer.close();
    expect(await verify(handle, { now: anHourOn() })).toMatchObject({ ok: true });
    await deleteClosingCheckpoint(handle.db, writer.chainId);
    const verdict = await verify(handle, { now: anHourOn() });
    expect(reasonOf(verdict)).toStartWith(
      `chain ${writer.chainId} ended without a closing checkpoint: a crash or a cut (its newest checkpoint: seq 0,`,
    );
    expect(reasonOf(verdict)).toContain("rows 1-3 not signed");
  });

  test("a crash is told from a cut only by the log stream", async () => {
    const handle = await database();
    const { writer, logged } = signingWriter(handle);
    const userId = await writeDoorOpens(handle.db, writer, 2);
    await writer.checkpoint();
    await writeDoorOpens(handle.db, writer, 2, userId); // rows 3-4: the crash comes before they are signed
    await logged.take("the process chain's checkpoint", (c) => c.chainId === auditChainId());
    const crash = await verify(handle, { now: anHourOn() });
    expect(reasonOf(crash)).toContain(
      `chain ${writer.chainId} ended without a closing checkpoint: a crash or a cut`,
    );
    // The log stream saw the chain's last checkpoint and nothing after it: a crash.
    const stream = asLogged(logged.items);
    const told = await verify(handle, { now: anHourOn(), logged: stream });
    expect(told).toMatchObject({ ok: true });
    expect(told.ok && told.notes).toContainEqual(
      expect.stringMatching(
        /ended without a closing checkpoint: a crash \(the log stream has nothing past its checkpoint at seq 2, .*\); rows 3-4 not signed$/,
      ),
    );
    // A stream that never saw that checkpoint cannot tell.
    const partial = stream.filter((c) => !(c.chainId === writer.chainId && c.chainSeq === 2));
    const unknown = await verify(handle, { now: anHourOn(), logged: partial });
    expect(reasonOf(unknown)).toContain("the log stream holds no copy of that checkpoint");
    // A line the key did not sign is refused.
    const forged = { ...stream[0], signature: signer.sign("something else") } as LoggedCheckpoint;
    expect(reasonOf(await verify(handle, { logged: [forged] }))).toContain(
      "(line 1) is not signed by the audit key",
    );
  });

  test("rows added after a chain's closing checkpoint are found", async () => {
    const handle = await database();
    const { writer } = signingWriter(handle);
    await writeDoorOpens(handle.db, writer, 1);
    await writer.close();
    await grant(handle.db, newUserId(), "intercom"); // the process chain, no longer signed
    const reason = reasonOf(await verify(handle));
    expect(reason).toStartWith(
      `chain ${auditChainId()} has rows after its closing checkpoint (seq 1, signed `,
    );
    expect(reason).toEndWith("): row 2 added after it closed");
  });

  test("a chain left by a failed batch is closed where the database has it, once it answers again", async () => {
    const handle = await database();
    const errors: unknown[] = [];
    const { writer } = signingWriter(handle, { onWriteError: (error) => errors.push(error) });
    const userId = await writeDoorOpens(handle.db, writer, 2);
    const failedChain = writer.chainId;
    await handle.db.execute(
      sql.raw(
        `alter table audit_events add constraint test_refuse_opens check (operation <> 'intercom.open') not valid`,
      ),
    );
    await expect(writeDoorOpens(handle.db, writer, 1, userId)).rejects.toThrow();
    expect(writer.chainId).not.toBe(failedChain);
    await handle.db.execute(sql.raw("alter table audit_events drop constraint test_refuse_opens"));
    await writeDoorOpens(handle.db, writer, 1, userId);
    const [closed] = (await writer.checkpoint()).filter((c) => c.chainId === failedChain);
    expect(closed).toMatchObject({ chainSeq: 2, closing: true });
    await writer.close();
    expect(await verify(handle, { now: anHourOn() })).toMatchObject({ ok: true });
  });

  test("the legacy chain is sealed by the first process with the key; a row added to it later is found", async () => {
    const handle = await database();
    // Rows as an api wrote them before chains: linked from the all-zero genesis, never signed.
    await appendUnsignedRows(handle.db, LEGACY_CHAIN, 2);
    expect(reasonOf(await verify(handle))).toBe(
      "chain legacy (rows from before chains) has no signed checkpoint: the first instance started with the audit key seals it",
    );
    const { logged } = signingWriter(handle);
    const seal = await logged.take("the seal", (c) => c.chainId === LEGACY_CHAIN);
    expect(seal).toMatchObject({ chainSeq: 2, closing: true });
    expect(await verify(handle, { now: anHourOn() })).toMatchObject({ ok: true });
    await appendUnsignedRows(handle.db, LEGACY_CHAIN, 1);
    expect(reasonOf(await verify(handle))).toContain(
      "chain legacy has rows after its closing checkpoint (seq 2,",
    );
  });

  test("cutting the newest rows under their checkpoint is detected", async () => {
    const handle = await database();
    const { writer } = signingWriter(handle);
    await writeDoorOpens(handle.db, writer, 5);
    await writer.checkpoint();
    await handle.db.execute(
      sql`delete from audit_events where chain_id = ${writer.chainId} and chain_seq > 3`,
    );
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: null });
    expect(reasonOf(verdict)).toContain("ends before its signed checkpoint");
  });

  test("a chain rebuilt with fresh hashes (without the key) is detected", async () => {
    const handle = await database();
    const { writer } = signingWriter(handle);
    await writeDoorOpens(handle.db, writer, 5);
    await writer.checkpoint();
    // Edit row 3, then recompute every hash from it on so the chain links again.
    await handle.db.execute(
      sql`update audit_events set target = 'dev_forged' where chain_id = ${writer.chainId} and chain_seq = 3`,
    );
    const rows = await handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.chainId, writer.chainId))
      .orderBy(asc(auditEvents.chainSeq));
    let prev = rows[1]?.hash ?? "";
    for (const row of rows.slice(2)) {
      const { seq: _seq, chainId: _chain, prevHash: _prev, hash: _hash, ...content } = row;
      const hash = auditRowHash(prev, content);
      await handle.db.execute(
        sql`update audit_events set prev_hash = ${prev}, hash = ${hash} where id = ${row.id}`,
      );
      prev = hash;
    }
    // The checkpoint of row 5 names another hash.
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: rows[4]?.seq });
    expect(reasonOf(verdict)).toBe(
      `chain ${writer.chainId} does not match its signed checkpoint at seq 5 (rebuilt)`,
    );
    // The hash chain alone is fooled; without its checkpoints the chain is no longer signed.
    await handle.db.delete(auditCheckpoints).where(eq(auditCheckpoints.chainId, writer.chainId));
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true, count: 6 });
    expect(reasonOf(await verify(handle))).toContain(
      `chain ${writer.chainId} has 5 row(s) and no signed checkpoint`,
    );
  });

  test("a checkpoint not signed by the audit key is refused", async () => {
    const handle = await database();
    const { writer } = signingWriter(handle);
    await writeDoorOpens(handle.db, writer, 2);
    await writer.checkpoint();
    const forger = createAuditSigner(generateAuditSigningKey());
    const [head] = await handle.db
      .select()
      .from(auditCheckpoints)
      .where(gt(auditCheckpoints.chainSeq, 0))
      .orderBy(asc(auditCheckpoints.chainSeq))
      .limit(1);
    await handle.db.insert(auditCheckpoints).values({
      ...(head as AuditCheckpoint),
      id: "ckp_forged",
      keyId: forger.keyId,
      signature: forger.sign("anything"),
    });
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: null });
    expect(reasonOf(verdict)).toContain("is not signed by the audit key");
  });

  test("a checkpoint signed before closing checkpoints existed (v1) still verifies, and says nothing of closing", async () => {
    const handle = await database();
    await appendUnsignedRows(handle.db, "old/1/x/w1.0", 2);
    const [head] = await handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.chainId, "old/1/x/w1.0"), eq(auditEvents.chainSeq, 2)));
    const v1 = {
      chainId: "old/1/x/w1.0",
      chainSeq: 2,
      headHash: head?.hash ?? "",
      at: new Date(Date.now() - HOUR),
    };
    const message = checkpointMessage(v1);
    expect(message.split("\n")[0]).toBe("propgate-audit-checkpoint:v1");
    expect(checkpointMessage({ ...v1, closing: true, intervalMs: 1, heartbeatMs: 2 })).not.toBe(
      message,
    );
    await handle.db.insert(auditCheckpoints).values({
      ...v1,
      id: "ckp_v1",
      keyId: signer.keyId,
      signature: signer.sign(message),
    });
    expect(await verify(handle)).toMatchObject({ ok: true, count: 2, checkpoints: 1 });
    // Marking it closing (which v1 could not say) breaks its signature.
    await handle.db.execute(sql`update audit_checkpoints set closing = true where id = 'ckp_v1'`);
    expect(reasonOf(await verify(handle))).toContain("is not signed by the audit key");
  });
});
