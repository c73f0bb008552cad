import { DomainError, newId } from "@propgate/domain";
import {
  and,
  asc,
  count,
  desc,
  eq,
  gt,
  inArray,
  isNotNull,
  isNull,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, contextFields, lockAuditChain, recordAuditEvent } from "./audit";
import type { Database } from "./database";
import { PARTNERS, type VideoEndReason } from "./purposes";
import { devices } from "./schema/devices";
import { videoSessions } from "./schema/video-sessions";
import { parseInput } from "./validation";

/** A resident already has as many live sessions as allowed. */
export class SessionLimitError extends DomainError {
  readonly code = "RATE_LIMITED" as const;
  constructor(readonly limit: number) {
    super(`at most ${limit} live video sessions at once`);
  }
}

/** What admins see of a session: `live`, `ending` (queued to be ended at the partner), `ended`. */
export const VIDEO_SESSION_STATES = ["pending", "live", "ending", "ended"] as const;
export type VideoSessionState = (typeof VIDEO_SESSION_STATES)[number];

export interface VideoSession {
  id: string;
  userId: string;
  cameraId: string;
  siteId: string | null;
  partner: string;
  partnerSessionId: string | null;
  sessionPath: string | null;
  state: VideoSessionState;
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
  endReason: VideoEndReason | null;
  endRequestedAt: string | null;
  /** Failed `DELETE`s at the partner so far, and the last one's short code (`http_503`). */
  endAttempts: number;
  endLastError: string | null;
}

function stateOf(row: typeof videoSessions.$inferSelect, now = Date.now()): VideoSessionState {
  if (row.endedAt) return "ended";
  if (row.partnerSessionId === null) return "pending";
  if (row.endRequestedAt || row.expiresAt.getTime() <= now) return "ending";
  return "live";
}

function toSession(row: typeof videoSessions.$inferSelect): VideoSession {
  return {
    id: row.id,
    userId: row.userId,
    cameraId: row.cameraId,
    siteId: row.siteId,
    partner: row.partner,
    partnerSessionId: row.partnerSessionId,
    sessionPath: row.sessionPath,
    state: stateOf(row),
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
    endReason: row.endReason,
    endRequestedAt: row.endRequestedAt?.toISOString() ?? null,
    endAttempts: row.endAttempts,
    endLastError: row.endLastError,
  };
}

/** Counts against the limit: not ended, not asked to end, not past its lifetime. */
const live = (userId: string) =>
  and(
    eq(videoSessions.userId, userId),
    isNull(videoSessions.endedAt),
    isNull(videoSessions.endRequestedAt),
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
    siteId: string;
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
      siteId: input.siteId,
      partner: input.partner,
      expiresAt: sql`now() + make_interval(secs => ${input.pendingSeconds})`,
    });
    return id;
  });
}

const Activation = z.strictObject({
  partnerSessionId: z.string().max(128),
  sessionPath: z.string().regex(/^\/[^\s]{0,1023}$/, "must be a path on the partner's origin"),
  expiresAt: z.iso.datetime({ offset: true }),
});

/**
 * Records the partner's session (its `Location`, its id, when it ends) once the partner created
 * it. Returns false when the session was asked to end meanwhile (a revocation raced the answer):
 * the row stays queued for ending, and the caller must not hand the session out.
 */
export async function activateVideoSession(
  db: Database,
  id: string,
  input: { partnerSessionId: string; sessionPath: string; expiresAt: string },
): Promise<boolean> {
  const session = parseInput(Activation, input, "video session");
  const [row] = await db
    .update(videoSessions)
    .set({
      partnerSessionId: session.partnerSessionId,
      sessionPath: session.sessionPath,
      expiresAt: new Date(session.expiresAt),
    })
    .where(eq(videoSessions.id, id))
    .returning({ endRequestedAt: videoSessions.endRequestedAt, endedAt: videoSessions.endedAt });
  return row !== undefined && row.endRequestedAt === null && row.endedAt === null;
}

/** Marks a session ended (idempotent: the first reason stays). */
export async function endVideoSession(
  db: Database,
  id: string,
  reason: VideoEndReason,
): Promise<void> {
  await db
    .update(videoSessions)
    .set({ endedAt: sql`now()`, endReason: sql`coalesce(${videoSessions.endReason}, ${reason})` })
    .where(and(eq(videoSessions.id, id), isNull(videoSessions.endedAt)));
}

/**
 * Queues sessions to be ended at the partner: not ended, not queued already. A session the
 * partner never created (a reservation) is queued too, so an answer arriving after a revocation
 * is ended rather than handed out (`activateVideoSession` says false). Returns how many.
 */
async function requestEnd(db: Database, where: SQL | undefined, reason: VideoEndReason) {
  const rows = await db
    .update(videoSessions)
    .set({ endRequestedAt: sql`now()`, endReason: reason, endNextAttemptAt: sql`now()` })
    .where(and(isNull(videoSessions.endedAt), isNull(videoSessions.endRequestedAt), where))
    .returning({ id: videoSessions.id });
  return rows.length;
}

/** The resident's own end: queued (and then sent at once by the caller). */
export function requestVideoSessionEnd(db: Database, id: string, userId: string) {
  return requestEnd(
    db,
    and(eq(videoSessions.id, id), eq(videoSessions.userId, userId)),
    "resident",
  );
}

/**
 * An operator's end of a session (`admin.videoSessions.end`): queued with reason `admin` (the
 * end queue then ends it at the partner) and audited as `admin.video_sessions.end` (the admin
 * as `actor`, their reason from `audit`; result `unchanged` when it was ended or queued
 * already), in one transaction. Null when there is no such session.
 */
export async function requestAdminVideoSessionEnd(
  db: Database,
  id: string,
  audit: AuditContext,
): Promise<VideoSession | null> {
  return db.transaction(async (tx) => {
    await lockAuditChain(tx);
    const queued = await requestEnd(tx, eq(videoSessions.id, id), "admin");
    const [row] = await tx.select().from(videoSessions).where(eq(videoSessions.id, id));
    if (!row) return null;
    await recordAuditEvent(tx, {
      ...contextFields(audit),
      kind: "admin.video_sessions.end",
      result: queued > 0 ? "ok" : "unchanged",
      userId: row.userId,
      partner: PARTNERS.find((partner) => partner === row.partner) ?? null,
      purpose: "video",
      operation: "video.end_session",
      target: row.cameraId,
      callId: row.id,
    });
    return toSession(row);
  });
}

/** Every session of the resident, in the transaction that revokes their `video` consent. */
export function requestEndOfResidentSessions(tx: Database, userId: string) {
  return requestEnd(tx, eq(videoSessions.userId, userId), "consent_revoked");
}

/** The resident's sessions on cameras of sites no longer theirs (from their current token). */
export function requestEndOfSessionsOffSites(db: Database, userId: string, sites: string[]) {
  const off =
    sites.length === 0
      ? undefined
      : sql`(${videoSessions.siteId} is null or not (${videoSessions.siteId} = any(${sql.param(sites)}::text[])))`;
  return requestEnd(db, and(eq(videoSessions.userId, userId), off), "camera_removed");
}

/** Sessions whose camera was removed from the registry or moved to another site. */
export function requestEndOfMovedCameraSessions(db: Database) {
  return requestEnd(
    db,
    sql`not exists (select 1 from ${devices} d where d.id = ${videoSessions.cameraId}
      and d.site_id is not distinct from ${videoSessions.siteId})`,
    "camera_removed",
  );
}

const ClaimInput = z.strictObject({
  limit: z.number().int().min(1).max(500),
  leaseSeconds: z.number().positive().max(3600),
});

/** Created at the partner, not ended, and queued to end or past its lifetime. */
function waitingToEnd(): SQL | undefined {
  return and(
    isNull(videoSessions.endedAt),
    isNotNull(videoSessions.partnerSessionId),
    or(isNotNull(videoSessions.endRequestedAt), sql`${videoSessions.expiresAt} <= now()`),
  );
}

/**
 * Claims sessions to end at the partner: queued or past their lifetime, created at the partner,
 * not ended, due (`end_next_attempt_at`). `FOR UPDATE SKIP LOCKED` and the lease let several
 * instances share the queue; a session past its lifetime is queued as `expired` here.
 */
export async function claimDueVideoEnds(
  db: Database,
  input: { limit: number; leaseSeconds: number },
): Promise<VideoSession[]> {
  const claim = parseInput(ClaimInput, input, "video end claim");
  const due = db
    .select({ id: videoSessions.id })
    .from(videoSessions)
    .where(
      and(waitingToEnd(), sql`coalesce(${videoSessions.endNextAttemptAt}, '-infinity') <= now()`),
    )
    .orderBy(asc(videoSessions.expiresAt))
    .limit(claim.limit)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(videoSessions)
    .set({
      endRequestedAt: sql`coalesce(${videoSessions.endRequestedAt}, now())`,
      endReason: sql`coalesce(${videoSessions.endReason}, 'expired')`,
      endNextAttemptAt: sql`now() + make_interval(secs => ${claim.leaseSeconds})`,
    })
    .where(inArray(videoSessions.id, due))
    .returning();
  return rows.map(toSession);
}

/** Reservations whose partner never answered: ended as `failed` (nothing to end at the partner). */
export async function endStaleReservations(db: Database): Promise<number> {
  const rows = await db
    .update(videoSessions)
    .set({ endedAt: sql`now()`, endReason: sql`coalesce(${videoSessions.endReason}, 'failed')` })
    .where(
      and(
        isNull(videoSessions.endedAt),
        isNull(videoSessions.partnerSessionId),
        sql`${videoSessions.expiresAt} <= now()`,
      ),
    )
    .returning({ id: videoSessions.id });
  return rows.length;
}

const FailInput = z.strictObject({
  errorCode: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/),
  retryInSeconds: z.number().min(0).max(86_400),
});

/** A failed `DELETE`: attempts + 1, the short code, the next try at `now() + retryInSeconds`. */
export async function failVideoEndAttempt(
  db: Database,
  id: string,
  input: { errorCode: string; retryInSeconds: number },
): Promise<void> {
  const failure = parseInput(FailInput, input, "video end failure");
  await db
    .update(videoSessions)
    .set({
      endAttempts: sql`${videoSessions.endAttempts} + 1`,
      endLastError: failure.errorCode,
      endNextAttemptAt: sql`now() + make_interval(secs => ${failure.retryInSeconds})`,
    })
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

/** Live sessions of a resident: activated, not ended, not queued to end, not expired. */
export async function listLiveVideoSessions(db: Database, userId: string): Promise<VideoSession[]> {
  const rows = await db
    .select()
    .from(videoSessions)
    .where(and(live(userId), isNotNull(videoSessions.partnerSessionId)))
    .orderBy(videoSessions.createdAt);
  return rows.map(toSession);
}

const ListQuery = z.strictObject({
  state: z.enum(["live", "ending", "ended"]).optional(),
  userId: z.string().min(1).max(128).optional(),
  limit: z.number().int().min(1).max(500).default(100),
});
export type ListVideoSessionsQuery = z.input<typeof ListQuery>;

/** Sessions for admins, newest first: what is live, what is being ended (and why it fails). */
export async function listVideoSessions(
  db: Database,
  query: ListVideoSessionsQuery = {},
): Promise<VideoSession[]> {
  const q = parseInput(ListQuery, query, "video session query");
  const conditions: (SQL | undefined)[] = [isNotNull(videoSessions.partnerSessionId)];
  if (q.userId !== undefined) conditions.push(eq(videoSessions.userId, q.userId));
  if (q.state === "ended") conditions.push(isNotNull(videoSessions.endedAt));
  if (q.state === "live")
    conditions.push(
      sql`${videoSessions.endedAt} is null`,
      isNull(videoSessions.endRequestedAt),
      gt(videoSessions.expiresAt, sql`now()`),
    );
  if (q.state === "ending")
    conditions.push(
      isNull(videoSessions.endedAt),
      or(isNotNull(videoSessions.endRequestedAt), sql`${videoSessions.expiresAt} <= now()`),
    );
  const rows = await db
    .select()
    .from(videoSessions)
    .where(and(...conditions))
    .orderBy(desc(videoSessions.createdAt), desc(videoSessions.id))
    .limit(q.limit);
  return rows.map(toSession);
}

/** Sessions waiting to be ended at the partner (for a gauge and its alert). */
export async function countEndingVideoSessions(db: Database): Promise<number> {
  const [row] = await db.select({ n: count() }).from(videoSessions).where(waitingToEnd());
  return row?.n ?? 0;
}
