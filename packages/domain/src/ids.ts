import { z } from "zod";

/** Opaque user id of tenant-core's identity provider (the token's `sub`). */
export const USER_ID_PATTERN = /^[A-Za-z0-9._:@|-]{1,128}$/;
/** A site (estate, building) as tenant-core names it. */
export const SITE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** A unit (flat) as tenant-core names it; residents' tokens carry theirs (`units` claim). */
export const UNIT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Our device ids: lower case, they appear in URLs and logs. */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** A resident's pseudonym at one partner: HMAC-SHA256 of the user id, base64url, no padding. */
export const SUBJECT_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Ids partners give their own devices; they travel in URL paths. */
export const PARTNER_DEVICE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** A partner's id of a flat (unit) in its own system: opaque, no address or name in it. */
export const PARTNER_UNIT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** A partner's id of one event it reports: the key a retried post is recognised by. */
export const PARTNER_EVENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const UserId = z.string().regex(USER_ID_PATTERN, "must be an opaque user id");
export const SiteId = z
  .string()
  .regex(SITE_ID_PATTERN, "must be a site id (1-64 of [A-Za-z0-9._-])");
export const UnitId = z
  .string()
  .regex(UNIT_ID_PATTERN, "must be a unit id (1-64 of [A-Za-z0-9._-])");
export const DeviceId = z
  .string()
  .regex(DEVICE_ID_PATTERN, "must be a device id (1-64 of [a-z0-9_-], starting alnum)");
export const Subject = z
  .string()
  .regex(SUBJECT_PATTERN, "subject must be a 43-char base64url pseudonym");
export const PartnerDeviceId = z
  .string()
  .regex(PARTNER_DEVICE_ID_PATTERN, "partner device id must be 1-64 of [A-Za-z0-9._-]");
export const PartnerUnitId = z
  .string()
  .regex(PARTNER_UNIT_ID_PATTERN, "partner unit id must be 1-64 of [A-Za-z0-9._-]");
export const PartnerEventId = z
  .string()
  .regex(PARTNER_EVENT_ID_PATTERN, "partner event id must be 1-128 of [A-Za-z0-9._:-]");

/** The prefixes of ids Propgate makes, one per kind of thing. */
export type IdPrefix =
  | "evt" // audit event
  | "cns" // consent event
  | "vss" // video session
  | "key" // guest key (ours; the partner's id is kept beside it)
  | "ers" // erasure request
  | "dst" // destruction record (an erasure the partner confirmed)
  | "call" // one partner call (its attempts share it)
  | "tap" // a resident's open without an idempotency key of its own
  | "req" // request id
  | "ptk" // partner-surface token
  | "ckp" // signed audit checkpoint
  | "red" // signed audit redaction record (rows whose personal fields retention removed)
  | "anm" // anomaly
  | "blk" // block
  | "jrn" // journal entry
  | "msg"; // webhook message (the Standard Webhooks `webhook-id`)

// Crockford base32, lower case: 32 symbols, so `byte & 31` is unbiased.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** `prefix_` + 20 random base32 characters (100 bits), e.g. `evt_5k2m…`. */
export function newId(prefix: IdPrefix): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let out = `${prefix}_`;
  for (let i = 0; i < 20; i++) out += ALPHABET[(bytes[i] as number) & 31];
  return out;
}

/**
 * `prefix_` + 10 base32 characters of the current millisecond (big-endian, to the year 37000)
 * + 10 random ones (50 bits): the same shape as `newId`, ordered by creation time, for rows
 * appended in bulk (audit events, journal entries) whose key index then grows at its end
 * instead of taking every insert at a random page. The creation time it shows is on the row.
 */
export function newTimeOrderedId(prefix: IdPrefix): string {
  let time = Date.now();
  let head = "";
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  let out = `${prefix}_${head}`;
  for (let i = 0; i < 10; i++) out += ALPHABET[(bytes[i] as number) & 31];
  return out;
}

/** The zod schema of one of our ids, e.g. `TypedId("vss")` for a video session id. */
export function TypedId(prefix: IdPrefix) {
  return z.string().regex(new RegExp(`^${prefix}_[${ALPHABET}]{20}$`), `must be a ${prefix}_ id`);
}
