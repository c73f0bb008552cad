import type { Purpose } from "@propgate/domain";
import { isConsentGranted } from "./consent";
import type { ConsentChange } from "./consent-bus";
import { type DatabaseHandle, registeredListener } from "./database";
import { DEVICES_CHANNEL, type Device, getDevice } from "./devices";

/**
 * The two reads every partner call made before its audit row, answered from memory. Neither is
 * what keeps a promise: the device check is re-done when a cached entry ages out or the registry
 * changes (NOTIFY), and consent is re-checked atomically with every attempt's audit row.
 */

interface Entry<T> {
  value: T;
  at: number;
}

/** A bounded map of fresh entries; `epoch` moves on every invalidation, so a read that raced one is not stored. */
function freshMap<T>(ttlMs: number, maxEntries: number) {
  const entries = new Map<string, Entry<T>>();
  let epoch = 0;
  return {
    get(key: string): T | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (Date.now() - entry.at < ttlMs) return entry.value;
      entries.delete(key);
      return undefined;
    },
    async load(key: string, read: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
      const started = epoch;
      const value = await read();
      if (keep(value) && epoch === started) {
        if (entries.size >= maxEntries) entries.clear();
        entries.set(key, { value, at: Date.now() });
      }
      return value;
    },
    delete(key: string) {
      epoch++;
      entries.delete(key);
    },
    clear() {
      epoch++;
      entries.clear();
    },
  };
}

/** {@link createDeviceCache} below is the one implementation. */
export interface DeviceCache {
  /** The device, from memory when read in the last `ttlMs` and the registry has not changed since. */
  get(id: string): Promise<Device | null>;
  close(): Promise<void>;
}

/**
 * Devices by id for the request path. Known devices only (an unknown id is read every time, so
 * guessing ids cannot fill memory); emptied when any instance changes the registry, and when
 * the listening connection comes back (a change may have been missed meanwhile).
 */
export async function createDeviceCache(
  handle: DatabaseHandle,
  options: { ttlMs?: number; maxEntries?: number } = {},
): Promise<DeviceCache> {
  const cache = freshMap<Device | null>(options.ttlMs ?? 30_000, options.maxEntries ?? 10_000);
  const listen = registeredListener(handle.db);
  if (!listen) throw new Error("createDeviceCache needs a handle from openDatabase");
  const unlisten = await listen(DEVICES_CHANNEL, cache.clear, cache.clear);
  return {
    async get(id) {
      const cached = cache.get(id);
      if (cached !== undefined) return cached;
      return cache.load(
        id,
        () => getDevice(handle.db, id),
        (device) => device !== null,
      );
    },
    close: unlisten,
  };
}

/**
 * How a cached refusal is taken. `read`: read the row again before refusing (a resident who has
 * just granted on another instance, the NOTIFY not here yet, is not wrongly refused). `cached`:
 * a remembered refusal answers, for a check whose wrong refusal only skips an optional write.
 */
type CachedRefusal = "read" | "cached";

/** {@link createConsentCache} below is the one implementation. */
export interface ConsentCache {
  /** Whether consent is granted, as the early answer before any token or audit row. */
  isGranted(
    userId: string,
    purpose: Purpose,
    options?: { refusal?: CachedRefusal },
  ): Promise<boolean>;
  /** A change announced on the consent bus (by any instance). */
  changed(change: ConsentChange): void;
  /** The bus reconnected: changes may have been missed. */
  clear(): void;
}

/**
 * Grants and refusals, for at most `ttlMs`, dropped as soon as the consent bus reports a change
 * (and all of them when it reconnects). A grant held a moment too long costs nothing: the
 * attempt's gate reads the consent row itself and refuses. A refusal held too long would refuse
 * a resident who just granted, so it answers only where asked (`refusal: "cached"`, the
 * journal's own-open check: a stale refusal there skips one journal entry, in the milliseconds
 * before the NOTIFY arrives); everywhere else a cached refusal is read again.
 */
export function createConsentCache(
  handle: DatabaseHandle,
  options: { ttlMs?: number; maxEntries?: number } = {},
): ConsentCache {
  const cache = freshMap<boolean>(options.ttlMs ?? 60_000, options.maxEntries ?? 100_000);
  const key = (userId: string, purpose: string) => `${purpose}\u0000${userId}`;
  return {
    async isGranted(userId, purpose, options = {}) {
      const k = key(userId, purpose);
      const cached = cache.get(k);
      if (cached === true) return true;
      if (cached === false && options.refusal === "cached") return false;
      return cache.load(
        k,
        () => isConsentGranted(handle.db, userId, purpose),
        () => true,
      );
    },
    changed(change) {
      cache.delete(key(change.userId, change.purpose));
    },
    clear: cache.clear,
  };
}
