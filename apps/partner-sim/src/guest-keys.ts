import { randomBytes, randomInt } from "node:crypto";
import type { CreatedKey, CreateKeyRequest, KeyRecord } from "@propgate/partner-client/contract";

/** The intercom partner keeps at most this many live keys per subject and site. */
export const MAX_KEYS_PER_SUBJECT_SITE = 50;

/** A key as the sim holds it: the sim is the partner, so it keeps the code its panels accept. */
export interface StoredGuestKey {
  keyId: string;
  clientId: string;
  subject: string;
  siteId: string;
  devices: string[];
  validFrom: string;
  validUntil: string;
  maxUses: number | null;
  code: string;
  createdAt: string;
}

export type CreateKeyOutcome =
  | { ok: true; created: CreatedKey }
  | { ok: false; error: "limit_exceeded" };

/** Guest keys per client and subject, for the routes and for tests. */
export interface GuestKeyStore {
  /** Every live key, oldest first; of one subject when given (tests read codes here). */
  keys(subject?: string): StoredGuestKey[];
  /** `store: false` is the "stores no key" fault: the answer is made, nothing is kept. */
  create(
    clientId: string,
    siteId: string,
    request: CreateKeyRequest,
    options: { store: boolean },
  ): CreateKeyOutcome;
  list(clientId: string, subject: string, siteId: string): KeyRecord[];
  remove(clientId: string, subject: string, keyId: string): boolean;
  clear(): void;
}

export function createGuestKeyStore(): GuestKeyStore {
  let held: StoredGuestKey[] = [];
  const live = (key: StoredGuestKey) => Date.parse(key.validUntil) > Date.now();

  return {
    keys: (subject) =>
      held.filter((key) => subject === undefined || key.subject === subject).map((k) => ({ ...k })),
    create(clientId, siteId, request, options) {
      const mine = held.filter(
        (key) =>
          key.clientId === clientId &&
          key.subject === request.subject &&
          key.siteId === siteId &&
          live(key),
      );
      if (mine.length >= MAX_KEYS_PER_SUBJECT_SITE) return { ok: false, error: "limit_exceeded" };
      const key: StoredGuestKey = {
        keyId: `gk_${randomBytes(12).toString("hex")}`,
        clientId,
        subject: request.subject,
        siteId,
        devices: [...request.devices],
        validFrom: request.validFrom,
        validUntil: request.validUntil,
        maxUses: request.maxUses ?? null,
        code: String(randomInt(0, 100_000_000)).padStart(8, "0"),
        createdAt: new Date().toISOString(),
      };
      if (options.store) held.push(key);
      return {
        ok: true,
        created: {
          keyId: key.keyId,
          code: key.code,
          qr: `SIMKEY:${key.keyId}:${key.code}`,
          validFrom: key.validFrom,
          validUntil: key.validUntil,
        },
      };
    },
    list(clientId, subject, siteId) {
      return held
        .filter(
          (key) =>
            key.clientId === clientId &&
            key.subject === subject &&
            key.siteId === siteId &&
            live(key),
        )
        .map((key) => ({
          keyId: key.keyId,
          devices: [...key.devices],
          validFrom: key.validFrom,
          validUntil: key.validUntil,
          maxUses: key.maxUses,
        }));
    },
    remove(clientId, subject, keyId) {
      const before = held.length;
      held = held.filter(
        (key) => !(key.keyId === keyId && key.clientId === clientId && key.subject === subject),
      );
      return held.length < before;
    },
    clear() {
      held = [];
    },
  };
}
