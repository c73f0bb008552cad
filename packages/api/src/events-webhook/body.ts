import { ENTRY_METHODS, PARTNER_EVENT_TYPES } from "@propgate/domain";
import { z } from "zod";

const Id = z.string().min(1).max(128).nullish();

/**
 * The fields a webhook body may carry, all opaque ids or vocabulary: anything else in a queued
 * payload is dropped here, so no name, plate, image or phone number can reach tenant-core.
 */
const WebhookData = z.object({
  id: Id,
  userId: z.string().min(1).max(128),
  deviceId: Id,
  cameraId: Id,
  unitId: Id,
  method: z.enum(ENTRY_METHODS).nullish(),
  outcome: z
    .string()
    .regex(/^[a-z_]{1,32}$/)
    .nullish(),
  durationSeconds: z.number().int().min(0).nullish(),
  occurredAt: z.iso.datetime({ offset: true }).nullish(),
});

const QueuedPayload = z.object({
  timestamp: z.iso.datetime({ offset: true }),
  data: WebhookData,
});

/**
 * The JSON body of one webhook (Standard Webhooks: `type`, `timestamp`, `data`) from an outbox
 * row's type and payload, keeping only the allowed fields; null when the payload does not parse
 * (it stays pending, never sent half-checked).
 */
export function webhookBody(eventType: string, payload: unknown): string | null {
  const type = z.enum(PARTNER_EVENT_TYPES).safeParse(eventType);
  const parsed = QueuedPayload.safeParse(payload);
  if (!type.success || !parsed.success) return null;
  const data = Object.fromEntries(
    Object.entries(parsed.data.data).filter(([, value]) => value !== undefined && value !== null),
  );
  return JSON.stringify({ type: type.data, timestamp: parsed.data.timestamp, data });
}
