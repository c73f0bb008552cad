import { inArray, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./database";
import { journalEntries, partnerEventReceipts } from "./schema/journal";
import { parseInput } from "./validation";

const PruneInput = z.strictObject({
  olderThan: z.date(),
  batch: z.number().int().min(1).max(100_000),
});

export interface Pruned {
  /** Journal entries deleted (their webhook messages go with them). */
  entries: number;
  /** Partner event receipts deleted: a partner retrying older posts is beyond help anyway. */
  receipts: number;
}

/**
 * Deletes up to `batch` journal entries recorded before `olderThan`, oldest first, and as many
 * partner event receipts received before it. Call again while either count equals `batch`.
 */
export async function pruneJournal(db: Database, olderThan: Date, batch = 5000): Promise<Pruned> {
  const input = parseInput(PruneInput, { olderThan, batch }, "journal prune");
  const oldEntries = db
    .select({ seq: journalEntries.seq })
    .from(journalEntries)
    .where(lt(journalEntries.recordedAt, input.olderThan))
    .orderBy(journalEntries.recordedAt)
    .limit(input.batch);
  const entries = await db
    .delete(journalEntries)
    .where(inArray(journalEntries.seq, oldEntries))
    .returning({ seq: journalEntries.seq });
  const oldReceipts = db
    .select({ partner: partnerEventReceipts.partner, id: partnerEventReceipts.partnerEventId })
    .from(partnerEventReceipts)
    .where(lt(partnerEventReceipts.receivedAt, input.olderThan))
    .orderBy(partnerEventReceipts.receivedAt)
    .limit(input.batch);
  const receipts = await db
    .delete(partnerEventReceipts)
    .where(
      sql`(${partnerEventReceipts.partner}, ${partnerEventReceipts.partnerEventId}) in ${oldReceipts}`,
    )
    .returning({ partner: partnerEventReceipts.partner });
  return { entries: entries.length, receipts: receipts.length };
}
