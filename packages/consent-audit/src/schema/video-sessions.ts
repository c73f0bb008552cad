import { index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Live video sessions: only what is needed to end a session and audit it — never the SDP.
 * A row is reserved (no partner session yet) before the partner is asked, so the per-resident
 * limit holds under concurrency; `ended_at` is set when it ends for any reason.
 */
export const videoSessions = pgTable(
  "video_sessions",
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    cameraId: text().notNull(),
    partner: text().notNull(),
    partnerSessionId: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    endedAt: timestamp({ withTimezone: true }),
    endReason: text(),
  },
  (t) => [index("video_sessions_user_idx").on(t.userId, t.endedAt)],
);
