import type { ConsentCache, JournalWriter } from "@propgate/consent-audit";
import type { Logger } from "@propgate/observability";

/**
 * Journals a resident's own open through Propgate (`access.granted` by `app`), kept only while
 * their `journal` consent holds. The door is open already: a failure here is logged, not thrown.
 */
export async function journalOwnOpen(
  services: {
    /** The instance's group commit of journal entries (`createJournalWriter`). */
    journal: JournalWriter;
    consents: ConsentCache;
    logger: Logger;
    requestId: string;
  },
  open: { userId: string; deviceId: string; callId: string; at: string },
): Promise<void> {
  try {
    // Most opens are of residents who keep no journal: the consent cache answers without a
    // transaction on the open's path, refusals included (appendJournal still checks the
    // consent row itself). A refusal remembered past a grant on another instance, before its
    // NOTIFY arrives, skips this one entry; the journal promises nothing before the grant lands.
    if (!(await services.consents.isGranted(open.userId, "journal", { refusal: "cached" }))) return;
    // Committed before the answer (the resident's next page shows it), in a transaction shared
    // with the other opens of the moment.
    await services.journal.append(
      {
        kind: "access.granted",
        method: "app",
        deviceId: open.deviceId,
        occurredAt: open.at,
        sourceEventId: open.callId,
      },
      [open.userId],
    );
  } catch (err) {
    services.logger.warn(
      { requestId: services.requestId, err },
      "could not journal the resident's open",
    );
  }
}
