import { sql } from "drizzle-orm";
import { z } from "zod";
import type { Database, DatabaseHandle } from "./database";
import { registeredListener } from "./database";
import { InvalidInputError } from "./errors";
import { CONSENT_STATES, PURPOSES } from "./purposes";

/** The NOTIFY channel on which every consent change is announced. */
export const CONSENT_CHANNEL = "propgate_consent";

// Not strict: an older instance must still read the payload of a newer one during a deploy.
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

export interface ConsentBus {
  close(): Promise<void>;
}

/**
 * Announces a consent change inside `tx`: PostgreSQL delivers it to listeners only when the
 * transaction commits, and never if it rolls back.
 */
export async function notifyConsentChange(tx: Database, change: ConsentChange): Promise<void> {
  const payload = JSON.stringify(ConsentChangeSchema.parse(change));
  await tx.execute(sql`select pg_notify(${CONSENT_CHANNEL}, ${payload})`);
}

/**
 * Listens for consent changes on `handle`. On PostgreSQL the LISTEN runs on a connection of the
 * handle's pool and is re-established by postgres.js after a loss (then `onReconnect`); on PGlite
 * notifications are local to the embedded database. Resolves once listening.
 */
export async function createConsentBus(
  handle: DatabaseHandle,
  opts: ConsentBusOptions,
): Promise<ConsentBus> {
  const listen = registeredListener(handle.db);
  if (listen === undefined) throw new Error("createConsentBus needs a handle from openDatabase");
  let closed = false;
  const report = (err: unknown) => {
    try {
      opts.onError?.(err);
    } catch {
      // A failing error handler must not break delivery to the other subscribers.
    }
  };
  const unlisten = await listen(
    CONSENT_CHANNEL,
    (payload) => {
      if (closed) return;
      const change = parsePayload(payload);
      if (change === undefined) {
        report(new InvalidInputError(`malformed notification on ${CONSENT_CHANNEL}`));
        return;
      }
      try {
        opts.onChange(change);
      } catch (err) {
        report(err);
      }
    },
    () => {
      if (closed) return;
      try {
        opts.onReconnect();
      } catch (err) {
        report(err);
      }
    },
  );
  let closing: Promise<void> | undefined;
  return {
    close: () => {
      closed = true;
      closing ??= unlisten();
      return closing;
    },
  };
}

function parsePayload(payload: string): ConsentChange | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const result = ConsentChangeSchema.safeParse(json);
  return result.success ? result.data : undefined;
}
