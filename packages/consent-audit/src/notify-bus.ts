import { sql } from "drizzle-orm";
import type { z } from "zod";
import type { Database, DatabaseHandle } from "./database";
import { registeredListener } from "./database";
import { InvalidInputError } from "./errors";

/** What a bus's listener is told. */
export interface NotifyBusOptions<T> {
  /** A notice committed on any instance (this one included). */
  onNotice(notice: T): void;
  /** The listening connection was lost and is back: notices in between were missed. */
  onReconnect(): void;
  /** A malformed notification, or an exception thrown by `onNotice` / `onReconnect`. */
  onError?(err: unknown): void;
}

export interface NotifyBus {
  close(): Promise<void>;
}

/**
 * Sends `notice` on `channel` inside `tx`: PostgreSQL delivers it to listeners only when the
 * transaction commits, and never if it rolls back.
 */
export async function notifyOn<T>(
  tx: Database,
  channel: string,
  schema: z.ZodType<T>,
  notice: T,
): Promise<void> {
  const payload = JSON.stringify(schema.parse(notice));
  await tx.execute(sql`select pg_notify(${channel}, ${payload})`);
}

/**
 * Listens on `channel` of `handle`, each payload read with `schema` (not strict: an older
 * instance must still read a newer one's during a deploy). On PostgreSQL the LISTEN runs on a
 * connection of the handle's pool and is re-established by postgres.js after a loss (then
 * `onReconnect`); on PGlite notifications are local to the embedded database. Resolves once
 * listening.
 */
export async function listenOn<T>(
  handle: DatabaseHandle,
  channel: string,
  schema: z.ZodType<T>,
  opts: NotifyBusOptions<T>,
): Promise<NotifyBus> {
  const listen = registeredListener(handle.db);
  if (listen === undefined)
    throw new Error(`listening on ${channel} needs a handle from openDatabase`);
  let closed = false;
  const report = (err: unknown) => {
    try {
      opts.onError?.(err);
    } catch {
      // A failing error handler must not break delivery to the other subscribers.
    }
  };
  const unlisten = await listen(
    channel,
    (payload) => {
      if (closed) return;
      const notice = parsePayload(schema, payload);
      if (notice === undefined) {
        report(new InvalidInputError(`malformed notification on ${channel}`));
        return;
      }
      try {
        opts.onNotice(notice);
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

function parsePayload<T>(schema: z.ZodType<T>, payload: string): T | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const result = schema.safeParse(json);
  return result.success ? result.data : undefined;
}
