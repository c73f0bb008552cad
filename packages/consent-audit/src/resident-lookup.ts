import { USER_ID_PATTERN } from "@propgate/domain";
import { and, desc, eq, gte, isNotNull, like, lt, max, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./database";
import { auditEvents } from "./schema/audit-events";
import { consentCurrent, consentEvents } from "./schema/consent";
import { unitResidents } from "./schema/journal";
import { parseInput } from "./validation";

/**
 * Finding a resident in the admin app without their whole opaque id: by the id's beginning, or
 * among those active lately; and telling an id Propgate never saw from a resident with nothing
 * granted. Bounded reads (docs/architecture.md, invariant 8): a prefix walks the primary key of
 * `consent_current` and the user index of `unit_residents` as a range (no new index), recent
 * activity reads the newest audit rows only.
 */

/** How many of the newest audit rows "recently active" looks at. */
export const RECENT_AUDIT_ROWS = 5000;

const FindQuery = z.strictObject({
  /** The id's beginning: the characters of a user id, 1 to 128 of them. */
  prefix: z.string().regex(USER_ID_PATTERN).optional(),
  limit: z.number().int().min(1).max(50).default(20),
});
export type FindResidentsQuery = z.input<typeof FindQuery>;

export interface FoundResident {
  userId: string;
  /** The newest audit row about them among the recent ones, if any. */
  lastSeenAt: Date | null;
}

/** `LIKE 'prefix%'` with the prefix taken literally (`_` is a user id character). */
const startsWith = (prefix: string) => `${prefix.replace(/[\\%_]/g, "\\$&")}%`;

/**
 * The ids that begin with `prefix` sort from `prefix` to the same with its last character one
 * higher: a range the btree indexes on `user_id` serve (ids are ASCII, so the next character is
 * one too). The `LIKE` keeps the answer exact whatever the collation.
 */
function prefixRange(
  column: typeof consentCurrent.userId | typeof unitResidents.userId,
  prefix: string,
) {
  const last = prefix.charCodeAt(prefix.length - 1);
  const next = `${prefix.slice(0, -1)}${String.fromCharCode(last + 1)}`;
  return and(gte(column, prefix), lt(column, next), like(column, startsWith(prefix)));
}

/** The residents active lately: the newest audit rows' user ids, most recent first. */
async function recentResidents(db: Database, limit: number): Promise<FoundResident[]> {
  const recent = db
    .select({ userId: auditEvents.userId, at: auditEvents.at })
    .from(auditEvents)
    .orderBy(desc(auditEvents.seq))
    .limit(RECENT_AUDIT_ROWS)
    .as("recent");
  const rows = await db
    .select({ userId: recent.userId, lastSeenAt: max(recent.at) })
    .from(recent)
    .where(isNotNull(recent.userId))
    .groupBy(recent.userId)
    .orderBy(desc(max(recent.at)))
    .limit(limit);
  return rows.flatMap((row) =>
    row.userId === null ? [] : [{ userId: row.userId, lastSeenAt: row.lastSeenAt }],
  );
}

/** The residents whose id begins with `prefix` (consent or a flat), in id order. */
async function residentsByPrefix(
  db: Database,
  prefix: string,
  limit: number,
): Promise<FoundResident[]> {
  const [consenting, living] = await Promise.all([
    db
      .selectDistinct({ userId: consentCurrent.userId })
      .from(consentCurrent)
      .where(prefixRange(consentCurrent.userId, prefix))
      .orderBy(consentCurrent.userId)
      .limit(limit),
    db
      .selectDistinct({ userId: unitResidents.userId })
      .from(unitResidents)
      .where(prefixRange(unitResidents.userId, prefix))
      .orderBy(unitResidents.userId)
      .limit(limit),
  ]);
  const ids = [...new Set([...consenting, ...living].map((row) => row.userId))]
    .sort()
    .slice(0, limit);
  if (ids.length === 0) return [];
  // Their last activity, one index lookup each on (user_id, seq).
  const seen = await Promise.all(
    ids.map(async (userId) => {
      const [row] = await db
        .select({ at: auditEvents.at })
        .from(auditEvents)
        .where(eq(auditEvents.userId, userId))
        .orderBy(desc(auditEvents.seq))
        .limit(1);
      return { userId, lastSeenAt: row?.at ?? null };
    }),
  );
  return seen;
}

/** Residents by the beginning of their id, or (no prefix) those active lately. */
export async function findResidents(
  db: Database,
  query: FindResidentsQuery,
): Promise<FoundResident[]> {
  const { prefix, limit } = parseInput(FindQuery, query, "resident search");
  return prefix === undefined ? recentResidents(db, limit) : residentsByPrefix(db, prefix, limit);
}

/**
 * Whether Propgate has anything at all about `userId`: a consent given or withdrawn, an audit
 * row, a flat. False is "never seen", which the admin app says instead of showing an empty
 * resident.
 */
export async function residentSeen(db: Database, userId: string): Promise<boolean> {
  const found = await Promise.all([
    db
      .select({ one: sql<number>`1` })
      .from(consentEvents)
      .where(eq(consentEvents.userId, userId))
      .limit(1),
    db
      .select({ one: sql<number>`1` })
      .from(auditEvents)
      .where(eq(auditEvents.userId, userId))
      .limit(1),
    db
      .select({ one: sql<number>`1` })
      .from(unitResidents)
      .where(eq(unitResidents.userId, userId))
      .limit(1),
  ]);
  return found.some((rows) => rows.length > 0);
}
