import { createHash } from "node:crypto";
import {
  countActiveKeys,
  findKeyByIdempotencyKey,
  type GuestKey,
  InvalidInputError,
  listKeys,
  recordKeyWithinLimit,
  requestKeyEnd,
} from "@propgate/consent-audit";
import { DeviceId, DomainError, newId, TypedId } from "@propgate/domain";
import { MAX_KEY_DEVICES } from "@propgate/partner-client/contract";
import { z } from "zod";
import { KeyNotFoundError } from "../errors.ts";
import { callPartner } from "../partner-call/call-partner.ts";
import { partnerProcedure, residentProcedure, router } from "../trpc.ts";

/**
 * Guest keys: a resident has the intercom partner issue a time-boxed code for a visitor at
 * chosen doors of their site. The code and QR pass through once, in memory — never stored,
 * logged or audited (the audit hooks record status and timing, not the answer); Propgate keeps
 * the key's ids, doors, validity, label and state (`guest_keys`).
 */

/** A resident over `GUEST_KEYS_MAX_ACTIVE`: nothing was sent to the partner. */
class KeyLimitError extends DomainError {
  readonly code = "RATE_LIMITED" as const;
  constructor(limit: number) {
    super(`at most ${limit} active guest keys at once; revoke one first`);
  }
}

const ClientIdempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{8,128}$/, "idempotencyKey must be 8-128 of [A-Za-z0-9._:-]");
const Time = z.iso.datetime({ offset: true });

/** The resident's words, minimised: trimmed, control and format characters refused, ≤ 40. */
const Label = z
  .string()
  .trim()
  .min(1, "label must not be empty")
  .max(40, "label must be at most 40 characters")
  // A refine, not a pattern: `\p{…}` classes do not carry over to the OpenAPI document's regex.
  .refine((label) => !/[\p{Cc}\p{Cf}]/u.test(label), "label must not contain control characters");

const CreateInput = z.strictObject({
  deviceIds: z
    .array(DeviceId)
    .min(1)
    .max(MAX_KEY_DEVICES)
    .refine((ids) => new Set(ids).size === ids.length, "deviceIds must not repeat"),
  validFrom: Time.optional(),
  validUntil: Time,
  maxUses: z.number().int().min(1).max(1000).optional(),
  label: Label.optional(),
  idempotencyKey: ClientIdempotencyKey.optional(),
});

/** What the resident sees of a key in `keys.list`: never a code. */
const KeyView = z.object({
  keyId: TypedId("key"),
  siteId: z.string(),
  deviceIds: z.array(z.string()),
  validFrom: z.iso.datetime(),
  validUntil: z.iso.datetime(),
  maxUses: z.number().int().nullable(),
  label: z.string().nullable(),
  createdAt: z.iso.datetime(),
});

const Created = KeyView.extend({
  /** The PIN the doors accept: shown once, kept nowhere. */
  code: z.string(),
  qr: z.string().nullable(),
});

function view(key: GuestKey): z.infer<typeof KeyView> {
  return {
    keyId: key.id,
    siteId: key.siteId,
    deviceIds: key.deviceIds,
    validFrom: key.validFrom,
    validUntil: key.validUntil,
    maxUses: key.maxUses,
    label: key.label,
    createdAt: key.createdAt,
  };
}

/** The key the partner sees: per resident, so two residents' equal keys never meet there. */
function partnerIdempotencyKey(userId: string, key: string): string {
  return `pg_${createHash("sha256").update(`${userId}\0keys.create\0${key}`).digest("base64url")}`;
}

/**
 * Up to a minute in the past is "now" (clocks differ, and a retry repeats its first start): the
 * partner is told the time asked, so every attempt of one create sends it the same body.
 */
const CLOCK_SLACK_MS = 60_000;

function checkValidity(
  input: { validFrom?: string; validUntil: string },
  maxHours: number,
  now: number,
) {
  const from = input.validFrom === undefined ? now : Date.parse(input.validFrom);
  const until = Date.parse(input.validUntil);
  if (input.validFrom !== undefined && Date.parse(input.validFrom) < now - CLOCK_SLACK_MS) {
    throw new InvalidInputError("validFrom must not be in the past");
  }
  if (until <= from) throw new InvalidInputError("validUntil must be after validFrom and now");
  if (until - from > maxHours * 3_600_000) {
    throw new InvalidInputError(`a guest key may be valid at most ${maxHours} hours`);
  }
  return { validFrom: new Date(from).toISOString(), validUntil: new Date(until).toISOString() };
}

export const keysRouter = router({
  create: partnerProcedure("keys.create")
    .input(CreateInput)
    .output(Created)
    .mutation(async ({ ctx, input }) => {
      const { maxHours, maxActive } = ctx.deps.settings.guestKeys;
      const { userId } = ctx.principal;
      const db = ctx.deps.database.db;
      // A block for key spam stops this procedure only (docs/operations.md, "Anomalies and blocks").
      ctx.deps.watch.enforce("resident_keys", userId);
      // A retry of a create that made its key is not counted against the limit again, and asks
      // the partner for that key again: its validity, not a new "now".
      const earlier =
        input.idempotencyKey === undefined
          ? null
          : await findKeyByIdempotencyKey(db, userId, input.idempotencyKey);
      const validity = earlier
        ? { validFrom: earlier.validFrom, validUntil: earlier.validUntil }
        : checkValidity(input, maxHours, Date.now());
      if (!earlier && (await countActiveKeys(db, userId)) >= maxActive) {
        throw new KeyLimitError(maxActive);
      }
      const callKey = input.idempotencyKey ?? newId("tap");
      let siteId = "";
      let partner: "intercom" | "barrier" = "intercom";
      const created = await callPartner(
        ctx.call,
        { devices: input.deviceIds, kind: "door" },
        (io) => {
          const [first] = io.devices;
          if (!first) throw new Error("a guest key without its doors");
          siteId = first.siteId;
          partner = io.partner;
          return ctx.deps.partners.intercom.keys.create({
            siteId,
            subject: io.subject,
            devices: io.devices.map((device) => device.partnerDeviceId),
            validFrom: validity.validFrom,
            validUntil: validity.validUntil,
            maxUses: input.maxUses,
            idempotencyKey: partnerIdempotencyKey(userId, callKey),
            hooks: io.hooks,
            signal: io.signal,
          });
        },
      );
      const {
        key,
        created: made,
        overLimit,
      } = await recordKeyWithinLimit(
        db,
        {
          userId,
          partner,
          partnerKeyId: created.keyId,
          siteId,
          deviceIds: input.deviceIds,
          validFrom: created.validFrom,
          validUntil: created.validUntil,
          maxUses: input.maxUses ?? null,
          label: input.label ?? null,
          idempotencyKey: input.idempotencyKey ?? null,
        },
        maxActive,
      );
      // Keys made count, not attempts refused here for free nor a retry answered with its key.
      if (made) ctx.deps.watch.observe("key_creations", userId);
      // Creates at once were each under the limit when counted: the ones recorded past it are
      // ended again and refused (their codes never reach the resident).
      if (overLimit) throw new KeyLimitError(maxActive);
      return { ...view(key), code: created.code, qr: created.qr ?? null };
    }),
  list: residentProcedure
    .output(z.array(KeyView))
    .query(async ({ ctx }) =>
      (await listKeys(ctx.deps.database.db, ctx.principal.userId)).map(view),
    ),
  /**
   * Ends a key: marked `ending` here (gone from `keys.list` at once); the end queue sends the
   * partner's DELETE. Allowed while blocked: ending what is theirs never turns on a resident.
   */
  revoke: residentProcedure
    .input(z.strictObject({ keyId: TypedId("key") }))
    .output(z.object({ revoked: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      const queued = await requestKeyEnd(ctx.deps.database.db, {
        id: input.keyId,
        userId: ctx.principal.userId,
        reason: "resident",
      });
      if (!queued) throw new KeyNotFoundError();
      return { revoked: true as const };
    }),
});
