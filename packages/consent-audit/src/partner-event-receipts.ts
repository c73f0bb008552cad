import { PARTNERS, type Partner } from "@propgate/domain";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./database";
import { partnerEventReceipts } from "./schema/journal";
import { parseInput } from "./validation";

const ReceiptInput = z.strictObject({
  partner: z.enum(PARTNERS),
  partnerEventId: z.string().min(1).max(128),
  auditEventId: z.string().min(1).max(128),
});

/**
 * Claims a partner's event id inside `tx`: true the first time, false when the partner posted
 * it already (a retry), so a retried post journals and pushes nothing twice.
 */
export async function claimEventReceipt(
  tx: Database,
  partner: Partner,
  partnerEventId: string,
  auditEventId: string,
): Promise<boolean> {
  const receipt = parseInput(
    ReceiptInput,
    { partner, partnerEventId, auditEventId },
    "partner event receipt",
  );
  const rows = await tx
    .insert(partnerEventReceipts)
    .values(receipt)
    .onConflictDoNothing()
    .returning({ partner: partnerEventReceipts.partner });
  return rows.length === 1;
}

/**
 * The audit row of the first post of a partner's event id, or null when it was never received
 * (or its receipt was pruned): what a retry is answered with.
 */
export async function findEventReceipt(
  db: Database,
  partner: Partner,
  partnerEventId: string,
): Promise<string | null> {
  const [row] = await db
    .select({ auditEventId: partnerEventReceipts.auditEventId })
    .from(partnerEventReceipts)
    .where(
      and(
        eq(partnerEventReceipts.partner, partner),
        eq(partnerEventReceipts.partnerEventId, partnerEventId),
      ),
    )
    .limit(1);
  return row?.auditEventId ?? null;
}
