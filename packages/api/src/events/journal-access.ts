import {
  type ConsentCache,
  type DatabaseHandle,
  journalSince,
  listJournal,
} from "@propgate/consent-audit";
import type { JournalAccess } from "./journal-events.ts";
import { residentEvent } from "./resident-event.ts";

/**
 * The journal tables (consent-audit) as `events.onEvent` reads them. Consent is the early answer
 * of the consent cache: enough, since `appendJournal` writes nothing for a resident without the
 * grant and a revocation both erases the journal and ends the streams (background.ts).
 */
export function databaseJournal(database: DatabaseHandle, consents: ConsentCache): JournalAccess {
  return {
    readSince: async (userId, afterSeq, limit) =>
      (await journalSince(database.db, userId, afterSeq, limit)).map(residentEvent),
    // Newest first on the (user, seq desc) index: one row.
    latestSeq: async (userId) =>
      (await listJournal(database.db, userId, { limit: 1 })).entries[0]?.seq ?? 0,
    consented: (userId) => consents.isGranted(userId, "journal"),
  };
}
