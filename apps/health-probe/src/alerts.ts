import type { Logger } from "@propgate/observability";
import type { ProbeCheck } from "./partner-probe.ts";

/** Where a check stands: `ok`, failing but not yet alerted, or `firing`. */
export type CheckState = "ok" | "failing" | "firing";

export interface CheckStatus {
  partner: string;
  check: ProbeCheck;
  state: CheckState;
  consecutiveFailures: number;
  lastError: string | null;
  /** When the state last changed. */
  since: Date;
  /** The last notification the webhook accepted for this check: what it believes now. */
  notified: "firing" | "resolved" | null;
}

export interface Transition {
  partner: string;
  check: ProbeCheck;
  from: CheckState;
  to: CheckState;
  at: Date;
  error: string | null;
}

/** One Alertmanager-compatible webhook payload (version 4) with one alert. */
export function webhookPayload(status: CheckStatus, now: Date) {
  const firing = status.notified !== "firing";
  const labels = {
    alertname: "PropgatePartnerCheckFailing",
    partner: status.partner,
    check: status.check,
    severity: "critical",
  };
  return {
    version: "4",
    groupKey: `{}:{alertname="PropgatePartnerCheckFailing",partner="${status.partner}",check="${status.check}"}`,
    status: firing ? "firing" : "resolved",
    receiver: "propgate-health-probe",
    groupLabels: { alertname: labels.alertname },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: "",
    truncatedAlerts: 0,
    alerts: [
      {
        status: firing ? "firing" : "resolved",
        labels,
        annotations: {
          summary: `${status.partner}: the ${status.check} check ${firing ? "keeps failing" : "passes again"}`,
          ...(firing && status.lastError ? { description: status.lastError } : {}),
        },
        startsAt: status.since.toISOString(),
        endsAt: firing ? "0001-01-01T00:00:00Z" : now.toISOString(),
        generatorURL: "",
        fingerprint: `${status.partner}/${status.check}`,
      },
    ],
  };
}

/**
 * The next status of a check after one result: `failuresToAlert` failures in a row make it
 * `firing`; one success makes it `ok`. Returns the transition when the state changed.
 */
export function nextStatus(
  current: CheckStatus,
  result: { ok: boolean; error: string | null },
  failuresToAlert: number,
  now: Date,
): { status: CheckStatus; transition: Transition | null } {
  const failures = result.ok ? 0 : current.consecutiveFailures + 1;
  const state: CheckState = result.ok ? "ok" : failures >= failuresToAlert ? "firing" : "failing";
  const status: CheckStatus = {
    ...current,
    state,
    consecutiveFailures: failures,
    lastError: result.ok ? current.lastError : result.error,
    since: state === current.state ? current.since : now,
  };
  const transition =
    state === current.state
      ? null
      : {
          partner: current.partner,
          check: current.check,
          from: current.state,
          to: state,
          at: now,
          error: result.error,
        };
  return { status, transition };
}

/** Whether the webhook must hear of this status: firing not yet told, or resolved after a firing. */
export function needsNotice(status: CheckStatus): boolean {
  if (status.state === "firing") return status.notified !== "firing";
  if (status.state === "ok") return status.notified === "firing";
  return false;
}

/** POSTs the payload; true when the receiver took it (2xx). */
export async function postWebhook(
  url: URL,
  payload: unknown,
  timeoutMs: number,
  logger: Logger,
): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    if (response.ok) return true;
    logger.warn({ status: response.status }, "alert webhook refused the notification");
    return false;
  } catch (error) {
    logger.warn({ err: error }, "alert webhook unreachable");
    return false;
  }
}
