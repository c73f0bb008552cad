import { newId } from "@propgate/domain";
import { desc, eq } from "drizzle-orm";
import { auditChainId } from "./audit";
import type { ChainHead } from "./audit-chain";
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
  return writeCheckpoint(tx, signer, { chainId, ...head });
}

/**
 * Signs and stores `head`, a committed head of a chain whose only writer is the caller (the
 * audit writer's own chain, whose head it keeps in memory).
 */
export async function writeCheckpoint(
  db: Database,
  signer: AuditSigner,
  head: ChainHead,
): Promise<AuditCheckpoint> {
  const at = new Date();
  const { chainId, chainSeq, hash: headHash } = head;
  const checkpoint: AuditCheckpoint = {
    id: newId("ckp"),
    chainId,
    chainSeq,
    headHash,
    at,
    keyId: signer.keyId,
    signature: signer.sign(checkpointMessage({ chainId, chainSeq, headHash, at })),
  };
  await db.insert(auditCheckpoints).values(checkpoint);
  return checkpoint;
}
