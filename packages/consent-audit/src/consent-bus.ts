import { z } from "zod";
import type { Database, DatabaseHandle } from "./database";
import { listenOn, type NotifyBus, notifyOn } from "./notify-bus";
import { CONSENT_STATES, PURPOSES } from "./purposes";

/** The NOTIFY channel on which every consent change is announced. */
export const CONSENT_CHANNEL = "propgate_consent";

const ConsentChangeSchema = z.object({
  userId: z.string().min(1).max(128),
  purpose: z.enum(PURPOSES),
  state: z.enum(CONSENT_STATES),
});
export type ConsentChange = z.infer<typeof ConsentChangeSchema>;

export interface ConsentBusOptions {
  /** A grant or revoke committed on any instance (this one included). */
  onChange(change: ConsentChange): void;
  /** The listening connection was lost and is back: changes in between were missed, flush caches. */
  onReconnect(): void;
  /** A malformed notification, or an exception thrown by `onChange` / `onReconnect`. */
  onError?(err: unknown): void;
}

export type ConsentBus = NotifyBus;

/** Announces a consent change inside `tx`: delivered when the transaction commits, never if it rolls back. */
export function notifyConsentChange(tx: Database, change: ConsentChange): Promise<void> {
  return notifyOn(tx, CONSENT_CHANNEL, ConsentChangeSchema, change);
}

/** Listens for consent changes on `handle` (see `listenOn`). Resolves once listening. */
export function createConsentBus(
  handle: DatabaseHandle,
  opts: ConsentBusOptions,
): Promise<ConsentBus> {
  return listenOn(handle, CONSENT_CHANNEL, ConsentChangeSchema, {
    onNotice: opts.onChange,
    onReconnect: opts.onReconnect,
    onError: opts.onError,
  });
}
