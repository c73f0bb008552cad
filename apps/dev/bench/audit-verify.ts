import {
  auditChainId,
  auditRowHash,
  chainGenesis,
  createAuditSigner,
  DEFAULT_CHECKPOINT_CADENCE,
  generateAuditSigningKey,
  verifyAuditChain,
  writeCheckpoint,
} from "@propgate/consent-audit";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { sql } from "drizzle-orm";

/**
 * `audit verify` over `rows` generated rows of one chain, in a throwaway database: the rows
 * are real (content, genesis-linked hashes), written 10,000 to a statement, the chain opened and
 * closed by signed checkpoints, then verified with the public key as production runs it
 * (signatures and the end of every chain). Returns the seconds of the verify alone, and per
 * million rows.
 */
export async function measureAuditVerify(rows: number): Promise<{
  rows: number;
  seconds: number;
  secondsPerMillion: number;
  ok: boolean;
}> {
  const database = await createTestDatabase();
  const signer = createAuditSigner(generateAuditSigningKey());
  const cadence = DEFAULT_CHECKPOINT_CADENCE;
  try {
    const chainId = auditChainId();
    let prev = chainGenesis(chainId);
    await writeCheckpoint(database.db, signer, { chainId, chainSeq: 0, hash: prev }, { cadence });
    const at = new Date();
    // The admin screen's and retention's indexes: verify reads none of them (it scans the chain
    // in the database), and keeping them up would make a 10 M-row load half an hour.
    const screens = (await database.db.execute(sql`
      select indexname from pg_indexes where tablename = 'audit_events'
        and indexname in ('audit_events_user_idx', 'audit_events_kind_idx',
          'audit_events_operation_idx', 'audit_events_target_idx', 'audit_events_result_idx',
          'audit_events_unredacted_idx', 'audit_events_at_brin')`)) as unknown as Array<{
      indexname: string;
    }>;
    for (const { indexname } of screens)
      await database.db.execute(sql.raw(`drop index "${indexname}"`));
    // Hashed here as the writer hashes them; sent as one JSON document per 10,000 rows (one
    // parameter, as the writer sends its batches): a 10 M-row chain loads in minutes, not an hour.
    const chunk = 10_000;
    for (let start = 0; start < rows; start += chunk) {
      const values = [];
      for (let i = start; i < Math.min(rows, start + chunk); i++) {
        const content = {
          chainSeq: i + 1,
          id: `evt_bench${String(i).padStart(12, "0")}`,
          at,
          kind: "partner.request" as const,
          sourceApp: "bench",
          instanceId: "bench",
          clientIp: null,
          requestId: null,
          userId: `user-${i % 1000}`,
          actor: null,
          operation: "intercom.open" as const,
          partner: "intercom" as const,
          purpose: "intercom" as const,
          target: "door-a1",
          attempt: 1,
          result: "pending",
          errorCode: null,
          httpStatus: null,
          latencyMs: null,
          callId: `call_bench${i}`,
        };
        const hash = auditRowHash(prev, content);
        values.push({
          chain_id: chainId,
          chain_seq: content.chainSeq,
          id: content.id,
          at: at.toISOString(),
          kind: content.kind,
          source_app: content.sourceApp,
          instance_id: content.instanceId,
          user_id: content.userId,
          operation: content.operation,
          partner: content.partner,
          purpose: content.purpose,
          target: content.target,
          attempt: content.attempt,
          result: content.result,
          call_id: content.callId,
          prev_hash: prev,
          hash,
        });
        prev = hash;
      }
      await database.db.execute(sql`
        insert into audit_events (chain_id, chain_seq, id, at, kind, source_app, instance_id,
          user_id, operation, partner, purpose, target, attempt, result, call_id, prev_hash, hash)
        select chain_id, chain_seq, id, at, kind, source_app, instance_id, user_id, operation,
          partner, purpose, target, attempt, result, call_id, prev_hash, hash
        from json_populate_recordset(null::audit_events, ${JSON.stringify(values)}::json)`);
    }
    const head = { chainId, chainSeq: rows, hash: prev };
    await writeCheckpoint(database.db, signer, head, { cadence, closing: true });
    // A settled table, as autovacuum leaves a real one: hint bits set and statistics taken, so
    // the timing is the verify's own and not the first scan's rewrite of a million fresh rows.
    await database.db.execute(sql`vacuum analyze audit_events`);
    const started = performance.now();
    const verdict = await verifyAuditChain(database.db, { publicKey: signer.publicKey });
    const seconds = (performance.now() - started) / 1000;
    return { rows, seconds, secondsPerMillion: (seconds * 1_000_000) / rows, ok: verdict.ok };
  } finally {
    await database.close();
  }
}
