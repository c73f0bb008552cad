import { type DatabaseHandle, pruneJournal } from "@propgate/consent-audit";
import type { Logger } from "@propgate/observability";
import { type PeriodicPass, startPeriodicPass } from "../outbox-pass.ts";

/** Batches a pass deletes at most, so one pass never holds the database for long. */
const MAX_BATCHES_PER_PASS = 100;

/**
 * Deletes journal entries (and partner event receipts) older than `retentionDays`, in batches
 * of `batch`, every `intervalMs`. Every instance runs it; the deletes do not conflict.
 */
export function startJournalPruner(
  services: { database: DatabaseHandle; logger: Logger },
  options: { retentionDays: number; intervalMs: number; batch?: number },
): PeriodicPass {
  const batch = options.batch ?? 5000;
  const pass = async (): Promise<number> => {
    const bound = new Date(Date.now() - options.retentionDays * 86_400_000);
    let deleted = 0;
    for (let i = 0; i < MAX_BATCHES_PER_PASS; i++) {
      const pruned = await pruneJournal(services.database.db, bound, batch);
      deleted += pruned.entries;
      if (pruned.entries < batch && pruned.receipts < batch) break;
    }
    if (deleted > 0) services.logger.info({ deleted }, "journal entries past retention pruned");
    return deleted;
  };
  return startPeriodicPass(pass, options.intervalMs, (error) =>
    services.logger.error({ err: error }, "journal prune pass failed"),
  );
}
