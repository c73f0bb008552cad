import { createHmac } from "node:crypto";
import type { PartnerScope } from "@propgate/partner-client/contract";
import { type PartnerSim, type PartnerSimOptions, startPartnerSim } from "../src/index.ts";

export const DOOR_APP = {
  clientId: "door-app",
  clientSecret: "door-app-secret-0123456789",
  scopes: ["intercom.open", "barrier.open", "health.read"] as PartnerScope[],
};
export const GATE_ONLY = {
  clientId: "gate-only",
  clientSecret: "gate-only-secret-0123456789",
  scopes: ["barrier.open"] as PartnerScope[],
};
/** Characters that RFC 6749 §2.3.1 form-encoding must carry through Basic credentials. */
export const ODD_CLIENT = {
  clientId: "odd id:+%é",
  clientSecret: "s3cr:et +/=%&é",
  scopes: ["health.read"] as PartnerScope[],
};

export function startTestSim(overrides: Partial<PartnerSimOptions> = {}): Promise<PartnerSim> {
  return startPartnerSim({
    name: "intercom",
    clients: [DOOR_APP, GATE_ONLY, ODD_CLIENT],
    intercoms: ["door-1", "door-2"],
    barriers: ["gate-1"],
    ...overrides,
  });
}

/** A contract-shaped subject: HMAC-SHA256, base64url, 43 characters. */
export function subjectOf(userId: string): string {
  return createHmac("sha256", "test-key").update(userId).digest("base64url");
}

export function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}

export function basicAuth(clientId: string, clientSecret: string): string {
  return `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`;
}

export function tokenRequest(
  sim: PartnerSim,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${sim.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

export async function getToken(
  sim: PartnerSim,
  client: { clientId: string; clientSecret: string },
  scope?: string,
): Promise<string> {
  const form: Record<string, string> = { grant_type: "client_credentials" };
  if (scope !== undefined) form.scope = scope;
  const response = await tokenRequest(sim, form, {
    authorization: basicAuth(client.clientId, client.clientSecret),
  });
  if (response.status !== 200) throw new Error(`token request failed: ${response.status}`);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

export function openDoor(
  sim: PartnerSim,
  token: string | null,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  const all: Record<string, string> = { "content-type": "application/json", ...headers };
  if (token !== null) all.authorization = `Bearer ${token}`;
  return fetch(`${sim.url}${path}`, {
    method: "POST",
    headers: all,
    body: JSON.stringify(body),
    signal,
  });
}

export function putFaults(sim: PartnerSim, patch: unknown): Promise<Response> {
  return fetch(`${sim.adminUrl}/admin/faults`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
}

/** Polls `check` until it returns a value other than undefined, or fails at the deadline. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 5000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await Bun.sleep(intervalMs);
  }
}
