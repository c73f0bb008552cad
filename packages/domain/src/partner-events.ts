import { z } from "zod";
import { PartnerDeviceId, PartnerEventId, PartnerUnitId, Subject } from "./ids.ts";
import { CALL_OUTCOMES, DEVICE_EVENT_TYPES, ENTRY_METHODS } from "./vocabulary.ts";

/**
 * What a partner posts to `POST /partner/v1/events`, one strict object per event type. Shared by
 * the partner surface (which validates with it), the partner simulator (which sends only what
 * it allows) and `propgate partner verify`. Strict on purpose: a plate, an image, a name or a
 * phone number has no field here, so a body carrying one is refused before anything is stored.
 */

// Each field its own schema instance (`clone()`), so the OpenAPI document can describe the
// `deviceId` of a call apart from the `deviceId` of an entry.
const deviceId = () => PartnerDeviceId.clone();
const eventId = () => PartnerEventId.clone();
const unitId = () => PartnerUnitId.clone();
/** When it happened at the device: RFC 3339 with an offset. */
const at = () => z.iso.datetime({ offset: true });

/** Events about a device itself, addressed to no resident; `eventId` optional (older partners). */
export const DeviceEvent = z.strictObject({
  type: z.enum(DEVICE_EVENT_TYPES),
  eventId: eventId().optional(),
  deviceId: deviceId(),
  at: at(),
});

/** Someone is ringing a flat at an entrance panel (`deviceId`). */
export const CallIncomingEvent = z.strictObject({
  type: z.literal("call.incoming"),
  eventId: eventId(),
  deviceId: deviceId(),
  unitId: unitId(),
  cameraId: deviceId().optional(),
  at: at(),
});

/** The call ended: answered or missed, after `durationSeconds`. */
export const CallEndedEvent = z.strictObject({
  type: z.literal("call.ended"),
  eventId: eventId(),
  deviceId: deviceId(),
  unitId: unitId(),
  outcome: z.enum(CALL_OUTCOMES),
  durationSeconds: z.number().int().min(0).max(86_400),
  callEventId: eventId().optional(),
  at: at(),
});

/** Someone was let in (`access.granted`) or refused (`access.denied`) by `method`. */
const accessEvent = <T extends "access.granted" | "access.denied">(type: T) =>
  z.strictObject({
    type: z.literal(type),
    eventId: eventId(),
    deviceId: deviceId(),
    method: z.enum(ENTRY_METHODS),
    subject: Subject.clone().optional(),
    at: at(),
  });
export const AccessGrantedEvent = accessEvent("access.granted");
export const AccessDeniedEvent = accessEvent("access.denied");

/** Any event a partner may post, told apart by `type`. */
export const PartnerEvent = z.discriminatedUnion("type", [
  DeviceEvent,
  CallIncomingEvent,
  CallEndedEvent,
  AccessGrantedEvent,
  AccessDeniedEvent,
]);
export type PartnerEvent = z.infer<typeof PartnerEvent>;
