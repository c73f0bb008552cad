import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { asc, eq, sql } from "drizzle-orm";
import {
  type AuditCheckpoint,
  auditChainId,
  auditRowHash,
  createAuditSigner,
  createAuditWriter,
  generateAuditSigningKey,
  verifyAuditChain,
} from "../src/index";
import { auditCheckpoints, auditEvents } from "../src/schema/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";
import { APP_AUDIT, attemptInput, grant, newUserId } from "./fixtures";

setDefaultTimeout(60_000);

const signer = createAuditSigner(generateAuditSigningKey());
const opened: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((handle) => handle.close()));
});

/** A database whose chain has `n` partner.request rows and a signed checkpoint of its head. */
async function signedChain(n: number) {
  const handle = await createTestDatabase();
  opened.push(handle);
  const logged: AuditCheckpoint[] = [];
  const writer = createAuditWriter(handle.db, {
    signer,
    checkpointEveryMs: 0,
    onCheckpoint: (checkpoint) => logged.push(checkpoint),
  });
  const userId = newUserId();
  await grant(handle.db, userId, "intercom");
  for (let i = 0; i < n; i++) await writer.attempt(attemptInput(userId, "intercom", i), APP_AUDIT);
  // Each batch's checkpoint is written right after it commits, without holding its callers.
  await writer.flush();
  return { handle, writer, logged };
}

const verify = (handle: TestDatabase) =>
  verifyAuditChain(handle.db, { publicKey: signer.publicKey });

describe("signed checkpoints", () => {
  test("an untouched log verifies against its checkpoints; each one also goes to the log stream", async () => {
    const { handle, writer, logged } = await signedChain(5);
    // The grant is on the process chain; the writer's batches on its own chain, each signed.
    expect(await verify(handle)).toEqual({ ok: true, count: 6, checkpoints: 5 });
    expect(logged.map((checkpoint) => checkpoint.chainSeq)).toEqual([1, 2, 3, 4, 5]);
    expect(logged.every((checkpoint) => checkpoint.chainId === writer.chainId)).toBe(true);
    expect(writer.chainId.startsWith(`${auditChainId()}/`)).toBe(true);
    // Now the process chain's head too; then nothing new anywhere: no checkpoint.
    const now = await writer.checkpoint();
    expect(now.map((checkpoint) => [checkpoint.chainId, checkpoint.chainSeq])).toEqual([
      [auditChainId(), 1],
    ]);
    expect(await writer.checkpoint()).toEqual([]);
    expect(await verify(handle)).toEqual({ ok: true, count: 6, checkpoints: 6 });
  });

  test("cutting the newest rows is detected", async () => {
    const { handle, writer } = await signedChain(5);
    await handle.db.execute(
      sql`delete from audit_events where chain_id = ${writer.chainId} and chain_seq > 3`,
    );
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: null });
    if (!verdict.ok) expect(verdict.reason).toContain("ends before its signed checkpoint");
  });

  test("a chain rebuilt with fresh hashes (without the key) is detected", async () => {
    const { handle, writer } = await signedChain(5);
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
    const verdict = await verify(handle);
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: rows[2]?.seq });
    if (!verdict.ok) expect(verdict.reason).toContain("does not match its signed checkpoint");
    // The hash chain alone is fooled: the checkpoints are what catch it.
    await handle.db.delete(auditCheckpoints);
    expect(await verify(handle)).toEqual({ ok: true, count: 6 });
  });

  test("a checkpoint not signed by the audit key is refused", async () => {
    const { handle } = await signedChain(2);
    const forger = createAuditSigner(generateAuditSigningKey());
    const [head] = await handle.db
      .select()
      .from(auditCheckpoints)
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
    if (!verdict.ok) expect(verdict.reason).toContain("is not signed by the audit key");
  });
});
