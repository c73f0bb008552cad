import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Signed records of audit rows whose personal fields retention removed: one per chain per
 * batch, signed with the audit key like the checkpoints, over a digest of the rows as they
 * were left (`redactionDigest`). Verify recomputes the digest from the rows and checks the
 * signature, so only the key's holder can redact (docs/architecture.md, "Retention and audit redaction").
 * Append-only.
 */
export const auditRedactions = pgTable(
  "audit_redactions",
  {
    id: text().primaryKey(),
    chainId: text().notNull(),
    /** When the rows were redacted. */
    at: timestamp({ withTimezone: true }).notNull(),
    /** The cut: every row of the record was written before it. */
    before: timestamp({ withTimezone: true }).notNull(),
    /** How many rows carry this record's id. */
    rows: integer().notNull(),
    /** sha256 hex over the rows' `chain_seq:hash:redacted_digest` lines (`redactionDigest`). */
    digest: text().notNull(),
    /** Which key signed it (`auditKeyId`). */
    keyId: text().notNull(),
    /** Ed25519 signature, base64url, over `redactionMessage(...)`. */
    signature: text().notNull(),
  },
  (t) => [index("audit_redactions_chain_idx").on(t.chainId)],
);
