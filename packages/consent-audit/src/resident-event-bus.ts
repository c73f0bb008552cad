import { z } from "zod";
import type { DatabaseHandle } from "./database";
import { listenOn, type NotifyBus } from "./notify-bus";

/** The NOTIFY channel on which each new journal entry is announced (who, and its `seq`). */
export const RESIDENT_EVENTS_CHANNEL = "propgate_resident_events";

const ResidentEventSchema = z.object({
  userId: z.string().min(1).max(128),
  seq: z.number().int().positive(),
});
export type ResidentEventNotice = z.infer<typeof ResidentEventSchema>;

export interface ResidentEventBusOptions {
  /** A journal entry committed on any instance (this one included); read it by `seq`. */
  onEvent(event: ResidentEventNotice): void;
  /** The listening connection was lost and is back: entries in between were not announced. */
  onReconnect(): void;
  /** A malformed notification, or an exception thrown by `onEvent` / `onReconnect`. */
  onError?(err: unknown): void;
}

export type ResidentEventBus = NotifyBus;

/** Listens for new journal entries on `handle`, as `createConsentBus` does for consent changes. */
export function createResidentEventBus(
  handle: DatabaseHandle,
  opts: ResidentEventBusOptions,
): Promise<ResidentEventBus> {
  return listenOn(handle, RESIDENT_EVENTS_CHANNEL, ResidentEventSchema, {
    onNotice: opts.onEvent,
    onReconnect: opts.onReconnect,
    onError: opts.onError,
  });
}
