import { bigint, boolean, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Signed checkpoints of the audit chains: a chain's head (`chain_seq`, `head_hash`) signed with
 * a key the database does not hold (Ed25519, `AUDIT_SIGNING_KEY_FILE`). A cut tail or a chain
 * rebuilt with fresh hashes no longer matches them; a chain's last one says whether it was
 * closed or is live (docs/architecture.md, invariant 1). Append-only.
 */
export const auditCheckpoints = pgTable(
  "audit_checkpoints",
  {
    id: text().primaryKey(),
    chainId: text().notNull(),
    chainSeq: bigint({ mode: "number" }).notNull(),
    headHash: text().notNull(),
    at: timestamp({ withTimezone: true }).notNull(),
    /** Which key signed it: the first 16 hex of the SHA-256 of the public key (SPKI DER). */
    keyId: text().notNull(),
    /** Ed25519 signature, base64url, over `checkpointMessage(...)`. */
    signature: text().notNull(),
    /** Signed: the writer stopped here, nothing follows. */
    closing: boolean().notNull().default(false),
    /**
     * Signed: the cadence the writer promised, so the verifier knows when a chain is live —
     * a checkpoint within `interval_ms` of new rows, one every `heartbeat_ms` while idle. Null
     * on checkpoints signed before closing checkpoints existed (message v1).
     */
    intervalMs: integer(),
    heartbeatMs: integer(),
  },
  (t) => [index("audit_checkpoints_chain_idx").on(t.chainId, t.chainSeq)],
);
