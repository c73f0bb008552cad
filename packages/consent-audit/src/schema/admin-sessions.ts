import { sql } from "drizzle-orm";
import { check, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Signed-in admins of the admin app, shared by its replicas. A row is found by the SHA-256 of
 * the browser's session id (the id itself is stored nowhere), and everything that could act
 * for the admin — the provider's tokens, the CSRF token — is sealed by the app (AES-256-GCM
 * under a key the database does not hold). Rows past their timeouts are deleted by the app.
 */
export const adminSessions = pgTable(
  "admin_sessions",
  {
    /** Hex SHA-256 of the session id: a reader of the table cannot present it as a cookie. */
    idHash: text().primaryKey(),
    /** The provider's `sub` of the admin (opaque), for operators: who is signed in. */
    userId: text().notNull(),
    /** The app's sealed session (`v1.` + base64url of IV, ciphertext and tag). */
    sealed: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull(),
    lastSeenAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [check("admin_sessions_id_hash_ck", sql`${t.idHash} ~ '^[0-9a-f]{64}$'`)],
);
