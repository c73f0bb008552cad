import { newId } from "@propgate/domain";
import { desc, eq } from "drizzle-orm";
import { auditChainId } from "./audit";
import { type AuditSigner, checkpointMessage } from "./audit-signing";
import type { Database } from "./database";
import { auditCheckpoints } from "./schema/audit-checkpoints";
import { auditEvents } from "./schema/audit-events";

export type AuditCheckpoint = typeof auditCheckpoints.$inferSelect;

/**
 * Signs the head of this process's chain, unless the newest checkpoint already names it. Run
 * inside a transaction that holds this process's chain lock, so the head cannot move meanwhile.
 */
export async function checkpointAuditChain(
  tx: Database,
  signer: AuditSigner,
): Promise<AuditCheckpoint | null> {
  const chainId = auditChainId();
  const [head] = await tx
    .select({ chainSeq: auditEvents.chainSeq, hash: auditEvents.hash })
    .from(auditEvents)
    .where(eq(auditEvents.chainId, chainId))
    .orderBy(desc(auditEvents.chainSeq))
    .limit(1);
  if (!head) return null;
  const [last] = await tx
    .select({ chainSeq: auditCheckpoints.chainSeq })
    .from(auditCheckpoints)
    .where(eq(auditCheckpoints.chainId, chainId))
    .orderBy(desc(auditCheckpoints.chainSeq))
    .limit(1);
  if (last && last.chainSeq >= head.chainSeq) return null;
  const at = new Date();
  const checkpoint: AuditCheckpoint = {
    id: newId("ckp"),
    chainId,
    chainSeq: head.chainSeq,
    headHash: head.hash,
    at,
    keyId: signer.keyId,
    signature: signer.sign(
      checkpointMessage({ chainId, chainSeq: head.chainSeq, headHash: head.hash, at }),
    ),
  };
  await tx.insert(auditCheckpoints).values(checkpoint);
  return checkpoint;
}
