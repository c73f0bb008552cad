import { SpanKind, SpanStatusCode, TRACING_OFF, type Tracing } from "@propgate/observability";
import { Webhook } from "standardwebhooks";
import type { EventsWebhookSettings } from "../settings.ts";
import { webhookBody } from "./body.ts";

/** One queued message, as the outbox holds it. */
export interface WebhookMessage {
  /** `msg_…`: the `webhook-id`, the same on every attempt so the receiver can drop repeats. */
  id: string;
  eventType: string;
  payload: unknown;
}

/** What one attempt came to: delivered, or the short failure code kept on the row. */
export type DeliveryOutcome = { delivered: true } | { delivered: false; code: string };

export type Deliver = (message: WebhookMessage) => Promise<DeliveryOutcome>;

/**
 * Sends one message to tenant-core, signed by the `standardwebhooks` reference library. Only a
 * 2xx counts as delivered (the spec's rule); anything else — another status, a timeout, a
 * refused connection — is a failure kept as `http_503`, `timeout` or `network`, never the text.
 * Each attempt is a span (`webhook <event type>`) whose `traceparent` the request carries, so
 * tenant-core's handling joins the trace.
 */
export function createWebhookDelivery(
  settings: Pick<EventsWebhookSettings, "url" | "secret" | "timeoutMs">,
  tracing: Tracing = TRACING_OFF,
): Deliver {
  const signer = new Webhook(settings.secret);
  return (message) =>
    tracing.span(
      `webhook ${message.eventType}`,
      { "propgate.webhook_id": message.id, "http.request.method": "POST" },
      async (span) => {
        const outcome = await send(message);
        span.setAttribute("propgate.outcome", outcome.delivered ? "delivered" : outcome.code);
        if (!outcome.delivered) span.setStatus({ code: SpanStatusCode.ERROR });
        return outcome;
      },
      SpanKind.CLIENT,
    );

  async function send(message: WebhookMessage): Promise<DeliveryOutcome> {
    const body = webhookBody(message.eventType, message.payload);
    if (body === null) return { delivered: false, code: "bad_payload" };
    // The timestamp is this attempt's: the receiver refuses signatures older than 5 minutes.
    const sentAt = new Date();
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "webhook-id": message.id,
      "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
      "webhook-signature": signer.sign(message.id, sentAt, body),
    };
    tracing.inject(headers);
    try {
      const response = await fetch(settings.url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      await response.body?.cancel().catch(() => {});
      return response.ok
        ? { delivered: true }
        : { delivered: false, code: `http_${response.status}` };
    } catch (error) {
      const name = (error as { name?: string }).name;
      return {
        delivered: false,
        code: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network",
      };
    }
  }
}
