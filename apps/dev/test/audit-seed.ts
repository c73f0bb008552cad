import { readFileSync } from "node:fs";
import {
  auditRowHash,
  chainGenesis,
  createAuditSigner,
  type Database,
  DEFAULT_CHECKPOINT_CADENCE,
  writeCheckpoint,
} from "@propgate/consent-audit";
import { auditEvents } from "@propgate/consent-audit/schema";

/**
 * Audit rows for the tests of the trail at size (admin-roles.load.test.ts, the audit screen):
 * row i at SEED_START + i seconds, linked and hashed as the writer would on a chain of its own,
 * opened and closed by checkpoints signed with the stack's audit key, so the chain still
 * verifies.
 */

export const SEED_START = Date.UTC(2025, 0, 1);

/** The seeded row i's content: users `seed-user-<i % 500>`, targets `door-seed-<i % 200>`. */
export const seedRow = (i: number) => ({
  chainSeq: i + 1,
  id: `evt_seed${String(i).padStart(12, "0")}`,
  at: new Date(SEED_START + i * 1000),
  kind: i % 50 === 0 ? ("access.denied" as const) : ("partner.request" as const),
  sourceApp: "seed",
  instanceId: "seed",
  clientIp: null,
  requestId: null,
  userId: `seed-user-${i % 500}`,
  actor: null,
  operation: i % 2 ? ("intercom.open" as const) : ("barrier.open" as const),
  partner: i % 2 ? ("intercom" as const) : ("barrier" as const),
  purpose: i % 2 ? ("intercom" as const) : ("barrier" as const),
  target: `door-seed-${i % 200}`,
  attempt: 1,
  result: i % 50 === 0 ? "denied" : "pending",
  errorCode: null,
  httpStatus: null,
  latencyMs: null,
  callId: null,
  reason: null,
});

export async function seedAuditRows(
  stack: { database: { db: Database }; env: Record<string, string> },
  count: number,
  chainId: string,
) {
  const { db } = stack.database;
  const signer = createAuditSigner(readFileSync(stack.env.AUDIT_SIGNING_KEY_FILE ?? "", "utf8"));
  const cadence = DEFAULT_CHECKPOINT_CADENCE;
  let prev = chainGenesis(chainId);
  await writeCheckpoint(db, signer, { chainId, chainSeq: 0, hash: prev }, { cadence });
  for (let start = 0; start < count; start += 2000) {
    const values = [];
    for (let i = start; i < Math.min(count, start + 2000); i++) {
      const content = seedRow(i);
      const hash = auditRowHash(prev, content);
      values.push({ ...content, chainId, prevHash: prev, hash });
      prev = hash;
    }
    await db.insert(auditEvents).values(values);
  }
  await writeCheckpoint(
    db,
    signer,
    { chainId, chainSeq: count, hash: prev },
    { cadence, closing: true },
  );
}
