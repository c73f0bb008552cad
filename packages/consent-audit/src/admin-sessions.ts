import { and, eq, gt, lte, or, sql } from "drizzle-orm";
import type { Database } from "./database";
import { adminSessions } from "./schema/admin-sessions";

/**
 * The admin app's sessions as rows: what the table holds, not what the seal hides. The app
 * hashes the session id and seals the rest (`apps/admin/src/session.ts`); these functions only
 * store, find, lock and sweep rows, so every replica sees the same sessions.
 */
export interface AdminSessionRow {
  /** Hex SHA-256 of the session id. */
  idHash: string;
  userId: string;
  sealed: string;
  createdAt: Date;
  lastSeenAt: Date;
}

export interface AdminSessionTimeouts {
  /** A session unused this long is over. */
  idleMs: number;
  /** A session is over this long after sign-in, however busy. */
  absoluteMs: number;
}

const before = (at: Date, ms: number) => new Date(at.getTime() - ms);

/** Live at `at`: used within the idle timeout and younger than the absolute one. */
const live = (at: Date, timeouts: AdminSessionTimeouts) =>
  and(
    gt(adminSessions.lastSeenAt, before(at, timeouts.idleMs)),
    gt(adminSessions.createdAt, before(at, timeouts.absoluteMs)),
  );

export async function insertAdminSession(db: Database, row: AdminSessionRow): Promise<void> {
  await db.insert(adminSessions).values(row);
}

/**
 * The session's row with its idle timer restarted at `at`, in one statement (replicas touching
 * it at once both succeed); null when there is none or it is past either timeout.
 */
export async function touchAdminSession(
  db: Database,
  idHash: string,
  at: Date,
  timeouts: AdminSessionTimeouts,
): Promise<AdminSessionRow | null> {
  const [row] = await db
    .update(adminSessions)
    // A replica whose clock is a little behind never moves the timer back.
    .set({
      lastSeenAt: sql`greatest(${adminSessions.lastSeenAt}, ${at.toISOString()}::timestamptz)`,
    })
    .where(and(eq(adminSessions.idHash, idHash), live(at, timeouts)))
    .returning();
  return row ?? null;
}

/**
 * The session's row locked until `tx` ends (`FOR UPDATE`): one replica at a time renews its
 * tokens, and the next one sees what the first wrote. Null when there is none.
 */
export async function lockAdminSession(
  tx: Database,
  idHash: string,
): Promise<AdminSessionRow | null> {
  const [row] = await tx
    .select()
    .from(adminSessions)
    .where(eq(adminSessions.idHash, idHash))
    .for("update");
  return row ?? null;
}

/** Replaces the sealed part of a session (renewed tokens); the timers stay. */
export async function resealAdminSession(
  db: Database,
  idHash: string,
  sealed: string,
): Promise<void> {
  await db.update(adminSessions).set({ sealed }).where(eq(adminSessions.idHash, idHash));
}

/** Ends a session on every replica at once; the row it had, or null. */
export async function deleteAdminSession(
  db: Database,
  idHash: string,
): Promise<AdminSessionRow | null> {
  const [row] = await db.delete(adminSessions).where(eq(adminSessions.idHash, idHash)).returning();
  return row ?? null;
}

/** Deletes the sessions past either timeout at `at`; how many. Any replica may run it. */
export async function sweepAdminSessions(
  db: Database,
  at: Date,
  timeouts: AdminSessionTimeouts,
): Promise<number> {
  const gone = await db
    .delete(adminSessions)
    .where(
      or(
        lte(adminSessions.lastSeenAt, before(at, timeouts.idleMs)),
        lte(adminSessions.createdAt, before(at, timeouts.absoluteMs)),
      ),
    )
    .returning({ idHash: adminSessions.idHash });
  return gone.length;
}

/** Throws unless the table is there and this role may use it (the admin app's readiness). */
export async function pingAdminSessions(db: Database): Promise<void> {
  await db.select({ idHash: adminSessions.idHash }).from(adminSessions).limit(1);
}
