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
import { auditEvents } from "@propgate/consent-audit/schema";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { sql } from "drizzle-orm";

/**
 * `audit verify` over `rows` generated rows of one chain, in a throwaway database: the rows
 * are real (content, genesis-linked hashes), written in multi-row INSERTs, the chain opened and
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
    const chunk = 2000;
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
        values.push({ ...content, chainId, prevHash: prev, hash });
        prev = hash;
      }
      await database.db.insert(auditEvents).values(values);
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
