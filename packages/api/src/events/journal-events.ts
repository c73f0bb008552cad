import type { JournalEvents } from "../deps.ts";
import { createResidentEventHub } from "./event-hub.ts";
import type { ResidentEvent } from "./resident-event.ts";

/** The journal as `events.onEvent` reads it. */
export interface JournalAccess {
  /** The resident's entries after `afterSeq`, oldest first, at most `limit`. */
  readSince(userId: string, afterSeq: number, limit: number): Promise<ResidentEvent[]>;
  /** The resident's newest seq, 0 with none. */
  latestSeq(userId: string): Promise<number>;
  /** Whether the resident's `journal` consent is granted now. */
  consented(userId: string): Promise<boolean>;
}

/** One instance's `events.onEvent` streams over the journal, within the stream caps. */
export function createJournalEvents(
  journal: JournalAccess,
  limits: { maxStreamsPerResident: number; maxStreams: number },
): JournalEvents {
  return {
    hub: createResidentEventHub<ResidentEvent>({
      readSince: journal.readSince,
      latestSeq: journal.latestSeq,
      ...limits,
    }),
    consented: journal.consented,
  };
}
