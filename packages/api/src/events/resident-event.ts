import type { JournalEntry } from "@propgate/consent-audit";
import { CALL_OUTCOMES, ENTRY_METHODS, PARTNER_EVENT_TYPES, TypedId } from "@propgate/domain";
import { z } from "zod";

/**
 * One journal entry as the resident's app sees it, in `events.list` and on `events.onEvent`:
 * opaque ids and words only, not whose it is nor its audit row. A ringing call names its camera,
 * for `video.createSession`.
 */
export const JournalEntryView = z.object({
  id: TypedId("jrn"),
  kind: z.enum(PARTNER_EVENT_TYPES),
  deviceId: z.string().nullable(),
  cameraId: z.string().nullable(),
  /** The resident's flat the event concerns (a resident may live in several). */
  unitId: z.string().nullable(),
  method: z.enum(ENTRY_METHODS).nullable(),
  outcome: z.enum(CALL_OUTCOMES).nullable(),
  durationSeconds: z.number().int().min(0).nullable(),
  occurredAt: z.iso.datetime(),
});
export type JournalEntryView = z.infer<typeof JournalEntryView>;

/** A live event: the entry and its `seq`, the SSE id a reconnecting client sends back as `Last-Event-ID`. */
export const ResidentEvent = JournalEntryView.extend({
  seq: z.number().int().nonnegative(),
});
export type ResidentEvent = z.infer<typeof ResidentEvent>;

export function journalEntryView(entry: JournalEntry): JournalEntryView {
  return {
    id: entry.id,
    kind: entry.kind,
    deviceId: entry.deviceId,
    cameraId: entry.cameraId,
    unitId: entry.unitId,
    method: entry.method,
    outcome: entry.outcome,
    durationSeconds: entry.durationSeconds,
    occurredAt: entry.occurredAt,
  };
}

export function residentEvent(entry: JournalEntry): ResidentEvent {
  return { ...journalEntryView(entry), seq: entry.seq };
}
