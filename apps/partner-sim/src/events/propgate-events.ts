import { PartnerEvent, PartnerEventId } from "@propgate/domain";
import { z } from "zod";

/** Where and as whom the sim reports events: Propgate's partner surface and a client it issued. */
export const PropgateTarget = z.strictObject({
  surfaceUrl: z.url({ protocol: /^https?$/ }),
  clientId: z.string().min(1).max(256),
  clientSecret: z.string().min(1).max(1024),
});
export type PropgateTarget = z.infer<typeof PropgateTarget>;

/** An event as the admin API or a test asks for it: `eventId` and `at` filled in when absent. */
export const EventDraft = z.union(
  PartnerEvent.options.map((shape) =>
    shape.extend({ eventId: PartnerEventId.optional(), at: shape.shape.at.optional() }),
  ),
);
export type EventDraft = z.input<typeof EventDraft>;

/** What Propgate answered to one event the sim posted. */
export interface EventReport {
  event: PartnerEvent;
  status: number;
  answer: unknown;
}

/** A call the sim has rung and not yet ended. */
interface RingingCall {
  deviceId: string;
  unitId: string;
  startedAt: number;
}

export interface PropgateEvents {
  /** Points the sim at Propgate; until then every send throws. */
  connect(target: PropgateTarget): void;
  /** Posts one event (filled in, then checked against the contract: the sim never sends a bad one). */
  send(draft: EventDraft): Promise<EventReport>;
  /** "Ring unit X at panel Y": `call.incoming`, remembered until `endCall`. */
  ring(input: { deviceId: string; unitId: string; cameraId?: string }): Promise<EventReport>;
  /** Ends a call `ring` started: `call.ended` with its duration and `callEventId`. */
  endCall(callEventId: string, outcome: "answered" | "missed"): Promise<EventReport>;
}

/** Thrown for a request the sim refuses before sending anything (unknown device, call, target). */
export class EventRefused extends Error {}

/**
 * The sim as a reporting partner: it gets a client-credentials token from Propgate's
 * `/oauth/token` (kept until shortly before it expires) and posts `/partner/v1/events`, only
 * about its own devices and only in the contract's shapes.
 */
export function createPropgateEvents(deps: {
  knownDevice(deviceId: string): boolean;
  fetch?: typeof fetch;
}): PropgateEvents {
  const send = deps.fetch ?? fetch;
  let target: PropgateTarget | null = null;
  let token: { value: string; until: number } | null = null;
  const calls = new Map<string, RingingCall>();

  async function bearer(to: PropgateTarget): Promise<string> {
    if (token && token.until > Date.now()) return token.value;
    const answer = await send(new URL("/oauth/token", to.surfaceUrl), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${encodeURIComponent(to.clientId)}:${encodeURIComponent(to.clientSecret)}`)}`,
      },
      body: "grant_type=client_credentials&scope=events.write",
    });
    if (answer.status !== 200)
      throw new EventRefused(`Propgate refused a token: HTTP ${answer.status}`);
    const body = (await answer.json()) as { access_token: string; expires_in: number };
    token = { value: body.access_token, until: Date.now() + (body.expires_in - 30) * 1000 };
    return token.value;
  }

  async function post(draft: EventDraft): Promise<EventReport> {
    const to = target;
    if (!to) throw new EventRefused("not connected to Propgate: PUT /admin/propgate first");
    const event = PartnerEvent.parse({
      ...draft,
      eventId: draft.eventId ?? `sim-${crypto.randomUUID()}`,
      at: draft.at ?? new Date().toISOString(),
    });
    for (const id of [event.deviceId, "cameraId" in event ? event.cameraId : undefined])
      if (id !== undefined && !deps.knownDevice(id)) throw new EventRefused(`unknown device ${id}`);
    const answer = await send(new URL("/partner/v1/events", to.surfaceUrl), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await bearer(to)}` },
      body: JSON.stringify(event),
    });
    const text = await answer.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { event, status: answer.status, answer: parsed };
  }

  return {
    connect(next) {
      target = PropgateTarget.parse(next);
      token = null;
    },
    send: post,
    async ring(input) {
      const report = await post({ type: "call.incoming", ...input });
      const eventId = report.event.eventId;
      if (eventId && report.status === 202)
        calls.set(eventId, {
          deviceId: input.deviceId,
          unitId: input.unitId,
          startedAt: Date.now(),
        });
      return report;
    },
    async endCall(callEventId, outcome) {
      const call = calls.get(callEventId);
      if (!call) throw new EventRefused("no ringing call with this eventId");
      const report = await post({
        type: "call.ended",
        deviceId: call.deviceId,
        unitId: call.unitId,
        outcome,
        durationSeconds: Math.min(86_400, Math.round((Date.now() - call.startedAt) / 1000)),
        callEventId,
      });
      if (report.status === 202) calls.delete(callEventId);
      return report;
    },
  };
}
