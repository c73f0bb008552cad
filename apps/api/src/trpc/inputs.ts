import { z } from "zod";

/** Boundary schemas shared by several procedures. All inputs are strict objects. */
export const DeviceId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "deviceId must be a device id");
export const ClientIdempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{8,128}$/, "idempotencyKey must be 8-128 of [A-Za-z0-9._:-]");
export const OpenInput = z.strictObject({
  deviceId: DeviceId,
  idempotencyKey: ClientIdempotencyKey.optional(),
});
