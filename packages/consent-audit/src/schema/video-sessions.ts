import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { VIDEO_END_REASONS, type VideoEndReason } from "../purposes";
import { sqlInList } from "./sql-lists";

/**
 * Live video sessions: only what is needed to end a session and audit it — never the SDP.
 * A row is reserved (no partner session yet) before the partner is asked, so the per-resident
 * limit holds under concurrency; `ended_at` is set when the partner has ended it (or it never
 * began). The row is also the durable queue that ends sessions at the partner: a revocation, a
 * camera leaving the resident's sites or the end of its lifetime sets `end_requested_at`, and a
 * worker sends `DELETE` on `session_path` until the partner confirms (`end_attempts`,
 * `end_next_attempt_at`, `end_last_error` — a short code, never partner text).
 */
export const videoSessions = pgTable(
  "video_sessions",
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    cameraId: text().notNull(),
    /** The camera's site when the session began; a camera moved off it ends the session. */
    siteId: text(),
    partner: text().notNull(),
    partnerSessionId: text(),
    /** The partner's `Location` for the session: a path and query on the partner's origin. */
    sessionPath: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    endedAt: timestamp({ withTimezone: true }),
    endReason: text().$type<VideoEndReason>(),
    endRequestedAt: timestamp({ withTimezone: true }),
    endAttempts: integer().notNull().default(0),
    endNextAttemptAt: timestamp({ withTimezone: true }),
    endLastError: text(),
  },
  (t) => [
    index("video_sessions_user_idx").on(t.userId, t.endedAt),
    // The retention job's walk over ended sessions, oldest first.
    index("video_sessions_ended_idx").on(t.endedAt).where(sql`${t.endedAt} is not null`),
    index("video_sessions_open_idx")
      .on(t.expiresAt)
      .where(sql`${t.endedAt} is null and ${t.partnerSessionId} is not null`),
    check(
      "video_sessions_end_reason_ck",
      sql`${t.endReason} is null or ${t.endReason} in ${sqlInList(VIDEO_END_REASONS)}`,
    ),
    check("video_sessions_end_attempts_ck", sql`${t.endAttempts} >= 0`),
  ],
);
