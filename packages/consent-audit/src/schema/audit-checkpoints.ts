import { bigint, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Signed checkpoints of the audit chains: a chain's head (`chain_seq`, `head_hash`) signed with
 * a key the database does not hold (Ed25519, `AUDIT_SIGNING_KEY_FILE`). A cut tail or a chain
 * rebuilt with fresh hashes no longer matches them. Append-only.
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
  },
  (t) => [index("audit_checkpoints_chain_idx").on(t.chainId, t.chainSeq)],
);
