import { sql } from "drizzle-orm";
import type { DatabaseHandle } from "./database";

/**
 * `SET LOCAL statement_timeout`: for the rest of the transaction only, so the pool's other users
 * keep theirs. A statement that runs (or waits for a lock) longer is cancelled, SQLSTATE 57014.
 */
export function setLocalStatementTimeout(timeoutMs: number): string {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
    throw new RangeError(`a statement timeout is a whole number of ms, got ${timeoutMs}`);
  return `set local statement_timeout = ${timeoutMs}`;
}

/**
 * Runs `work` with each statement it sends bounded by `timeoutMs`: in one transaction (read
 * committed, as the pool's own statements) on one connection, which `work` gets as the handle's
 * `db`. PGlite accepts the setting but never enforces it (one backend, no timer), and has no
 * pool to protect: there `work` gets the handle as it is.
 */
export async function withStatementTimeout<T>(
  database: DatabaseHandle,
  timeoutMs: number,
  work: (database: DatabaseHandle) => Promise<T>,
): Promise<T> {
  if (database.kind === "pglite") return work(database);
  const setting = sql.raw(setLocalStatementTimeout(timeoutMs));
  return database.db.transaction(async (tx) => {
    await tx.execute(setting);
    return work({ ...database, db: tx });
  });
}
