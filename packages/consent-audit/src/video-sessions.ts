import { DomainError, newId } from "@propgate/domain";
import { and, count, eq, gt, isNull, sql } from "drizzle-orm";
import type { Database } from "./database";
import { videoSessions } from "./schema/video-sessions";

/** A resident already has as many live sessions as allowed. */
export class SessionLimitError extends DomainError {
  readonly code = "RATE_LIMITED" as const;
  constructor(readonly limit: number) {
    super(`at most ${limit} live video sessions at once`);
  }
}

export interface VideoSession {
  id: string;
  userId: string;
  cameraId: string;
  partner: string;
  partnerSessionId: string | null;
  expiresAt: string;
  endedAt: string | null;
}

function toSession(row: typeof videoSessions.$inferSelect): VideoSession {
  return {
    id: row.id,
    userId: row.userId,
    cameraId: row.cameraId,
    partner: row.partner,
    partnerSessionId: row.partnerSessionId,
    expiresAt: row.expiresAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
  };
}

const live = (userId: string) =>
  and(
    eq(videoSessions.userId, userId),
    isNull(videoSessions.endedAt),
    gt(videoSessions.expiresAt, sql`now()`),
  );

/**
 * Reserves a session slot for the resident before the partner is asked; refuses with
 * SessionLimitError when `maxLive` are live. Serialized per resident by an advisory lock, so
 * concurrent requests cannot overshoot the limit. A reservation lives `pendingSeconds` until activated.
 */
export async function reserveVideoSession(
  db: Database,
  input: {
    userId: string;
    cameraId: string;
    partner: string;
    maxLive: number;
    pendingSeconds: number;
  },
): Promise<string> {
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtext('video_sessions'), hashtext(${input.userId}))`,
    );
    const [row] = await tx.select({ live: count() }).from(videoSessions).where(live(input.userId));
    if ((row?.live ?? 0) >= input.maxLive) throw new SessionLimitError(input.maxLive);
    const id = newId("vss");
    await tx.insert(videoSessions).values({
      id,
      userId: input.userId,
      cameraId: input.cameraId,
      partner: input.partner,
      expiresAt: sql`now() + make_interval(secs => ${input.pendingSeconds})`,
    });
    return id;
  });
}

/** Records the partner's session id and expiry once the partner created the session. */
export async function activateVideoSession(
  db: Database,
  id: string,
  input: { partnerSessionId: string; expiresAt: string },
): Promise<void> {
  await db
    .update(videoSessions)
    .set({ partnerSessionId: input.partnerSessionId, expiresAt: new Date(input.expiresAt) })
    .where(eq(videoSessions.id, id));
}

/** Marks a session ended (idempotent: the first reason stays). */
export async function endVideoSession(db: Database, id: string, reason: string): Promise<void> {
  await db
    .update(videoSessions)
    .set({ endedAt: sql`now()`, endReason: reason })
    .where(and(eq(videoSessions.id, id), isNull(videoSessions.endedAt)));
}

/** The resident's session by id, or null (another resident's session is not found either). */
export async function getVideoSession(
  db: Database,
  id: string,
  userId: string,
): Promise<VideoSession | null> {
  const [row] = await db
    .select()
    .from(videoSessions)
    .where(and(eq(videoSessions.id, id), eq(videoSessions.userId, userId)));
  return row ? toSession(row) : null;
}

/** Live sessions of a resident: activated, not ended, not expired. */
export async function listLiveVideoSessions(db: Database, userId: string): Promise<VideoSession[]> {
  const rows = await db
    .select()
    .from(videoSessions)
    .where(and(live(userId), sql`${videoSessions.partnerSessionId} is not null`))
    .orderBy(videoSessions.createdAt);
  return rows.map(toSession);
}
