import { randomUUID } from "node:crypto";
import type { PartnerEvent, PartnerEventType } from "@propgate/domain";
import type { CheckRow } from "./report.ts";

/** Our partner surface, and the client we issued the partner there (`events.write`). */
export interface SurfaceTarget {
  url: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
}

/** The types whose shapes a partner must get right before it reports calls and entries. */
const CHECKED_TYPES = [
  "call.incoming",
  "call.ended",
  "access.granted",
  "access.denied",
] as const satisfies readonly PartnerEventType[];

/** A conforming synthetic event of `type`: ids that name no real flat, call or person. */
function syntheticEvent(type: (typeof CHECKED_TYPES)[number], deviceId: string): PartnerEvent {
  const common = {
    eventId: `propgate-verify:${randomUUID()}`,
    deviceId,
    at: new Date().toISOString(),
  };
  switch (type) {
    case "call.incoming":
      return { type, ...common, unitId: "propgate-verify" };
    case "call.ended":
      return { type, ...common, unitId: "propgate-verify", outcome: "missed", durationSeconds: 0 };
    case "access.granted":
    case "access.denied":
      return { type, ...common, method: "key" };
  }
}

/**
 * The partner's side of `POST /partner/v1/events` on our surface: a token for the client we
 * issued, a conforming event of each call and access type accepted (202 with our event id),
 * and one with a field outside its shape (a plate) refused 400 `INVALID_INPUT`. The events are
 * synthetic: a flat id and event ids no partner uses, no subject.
 */
export async function eventRows(
  surface: SurfaceTarget | null,
  device: string | null,
  fetchFn: typeof fetch = fetch,
): Promise<CheckRow[]> {
  const names = [...CHECKED_TYPES.map((type) => `events.${type}`), "events.strict"];
  if (surface === null)
    return names.map((check) => ({
      check,
      status: "skip",
      detail:
        "give --surface <url> (and PARTNER_SURFACE_CLIENT_ID, _SECRET[_FILE]) to check events",
    }));
  const call = (path: string, init: RequestInit) =>
    fetchFn(new URL(path, surface.url), {
      ...init,
      signal: AbortSignal.timeout(surface.timeoutMs),
    });
  let token: string;
  try {
    const answer = await call("/oauth/token", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${encodeURIComponent(surface.clientId)}:${encodeURIComponent(surface.clientSecret)}`)}`,
      },
      body: "grant_type=client_credentials&scope=events.write",
    });
    if (answer.status !== 200) {
      const detail = `no events.write token from the surface: HTTP ${answer.status}`;
      return names.map((check) => ({ check, status: "fail", detail }));
    }
    token = String(((await answer.json()) as { access_token?: unknown }).access_token);
  } catch (error) {
    const detail = `the surface did not answer (${error instanceof Error ? error.name : "error"})`;
    return names.map((check) => ({ check, status: "fail", detail }));
  }
  const post = async (body: unknown) => {
    const answer = await call("/partner/v1/events", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const json = (await answer.json().catch(() => null)) as Record<string, unknown> | null;
    return { status: answer.status, json };
  };
  const deviceId = device ?? "propgate-verify";
  const rows: CheckRow[] = [];
  for (const type of CHECKED_TYPES) {
    const check = `events.${type}`;
    try {
      const { status, json } = await post(syntheticEvent(type, deviceId));
      const accepted = status === 202 && /^evt_/.test(String(json?.eventId));
      rows.push(
        accepted
          ? { check, status: "pass", detail: `HTTP 202: accepted as ${String(json?.eventId)}` }
          : {
              check,
              status: "fail",
              detail: `HTTP ${status}: a conforming ${type} was not accepted`,
            },
      );
    } catch (error) {
      rows.push({
        check,
        status: "fail",
        detail: `failed (${error instanceof Error ? error.name : "error"})`,
      });
    }
  }
  try {
    const bad = { ...syntheticEvent("access.granted", deviceId), plate: "A000AA000" };
    const { status, json } = await post(bad);
    const code = (json?.error as { code?: unknown } | undefined)?.code;
    rows.push(
      status === 400 && code === "INVALID_INPUT"
        ? {
            check: "events.strict",
            status: "pass",
            detail: "HTTP 400 INVALID_INPUT: an unknown field is refused",
          }
        : {
            check: "events.strict",
            status: "fail",
            detail: `HTTP ${status}: an event with an unknown field was not refused`,
          },
    );
  } catch (error) {
    rows.push({
      check: "events.strict",
      status: "fail",
      detail: `failed (${error instanceof Error ? error.name : "error"})`,
    });
  }
  return rows;
}
