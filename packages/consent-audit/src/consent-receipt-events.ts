import { and, desc, eq, lt, or } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./database";
import { PURPOSES, type Purpose } from "./purposes";
import { consentEvents } from "./schema/consent";
import { notices } from "./schema/notices";
import { parseInput } from "./validation";

/** One grant or revoke as a consent receipt states it: the event and the notice it names. */
export interface ConsentReceiptEvent {
  id: string;
  userId: string;
  purpose: Purpose;
  action: "grant" | "revoke";
  /** The notice version a grant accepted; null on a revoke. */
  noticeVersion: number | null;
  /** SHA-256 of that notice's text; null on a revoke. */
  noticeSha256: string | null;
  channel: string;
  method: string;
  at: Date;
}

const PageInput = z.strictObject({
  userId: z.string().min(1).max(128),
  purpose: z.enum(PURPOSES).optional(),
  /** The id of the last event of the previous page. */
  cursor: z.string().min(1).max(64).optional(),
  limit: z.number().int().min(1).max(200).default(50),
});

/**
 * A page of the resident's grants and revokes, newest first, each with its notice's digest.
 * A cursor that is not one of this resident's events starts nothing: an empty page.
 */
export async function pageConsentReceiptEvents(
  db: Database,
  input: z.input<typeof PageInput>,
): Promise<ConsentReceiptEvent[]> {
  const page = parseInput(PageInput, input, "consent receipts query");
  const mine = eq(consentEvents.userId, page.userId);
  let after: ReturnType<typeof or> | undefined;
  if (page.cursor) {
    const [last] = await db
      .select({ id: consentEvents.id, at: consentEvents.at })
      .from(consentEvents)
      .where(and(mine, eq(consentEvents.id, page.cursor)))
      .limit(1);
    if (!last) return [];
    after = or(
      lt(consentEvents.at, last.at),
      and(eq(consentEvents.at, last.at), lt(consentEvents.id, last.id)),
    );
  }
  const rows = await db
    .select({
      id: consentEvents.id,
      userId: consentEvents.userId,
      purpose: consentEvents.purpose,
      action: consentEvents.action,
      noticeVersion: consentEvents.noticeVersion,
      noticeSha256: notices.textSha256,
      channel: consentEvents.channel,
      method: consentEvents.method,
      at: consentEvents.at,
    })
    .from(consentEvents)
    .leftJoin(
      notices,
      and(
        eq(notices.purpose, consentEvents.purpose),
        eq(notices.version, consentEvents.noticeVersion),
      ),
    )
    .where(and(mine, page.purpose ? eq(consentEvents.purpose, page.purpose) : undefined, after))
    .orderBy(desc(consentEvents.at), desc(consentEvents.id))
    .limit(page.limit);
  return rows;
}
