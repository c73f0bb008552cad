import { createHash, timingSafeEqual } from "node:crypto";
import type { SimClient } from "../options.ts";

export type ClientAuthMethod = "client_secret_basic" | "client_secret_post";

export type ClientAuthResult =
  | { ok: true; client: SimClient; method: ClientAuthMethod }
  | {
      ok: false;
      error: "invalid_request" | "invalid_client";
      description: string;
      /** The client id the caller claimed, if any (not a secret; kept for the recorder). */
      claimedClientId?: string;
    };

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they go into Basic credentials. */
function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return null;
  }
}

function parseBasic(header: string): { id: string; secret: string } | null {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (id === null || secret === null || id === "") return null;
  return { id, secret };
}

// Unknown clients are compared against this, so the answer time does not reveal which ids exist.
const UNKNOWN_CLIENT_SECRET = createHash("sha256").update("partner-sim: no such client").digest();

function secretMatches(given: string, expected: string | undefined): boolean {
  const a = createHash("sha256").update(given).digest();
  const b =
    expected === undefined ? UNKNOWN_CLIENT_SECRET : createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && expected !== undefined;
}

/**
 * Authenticates the client of a token request by `client_secret_basic` or `client_secret_post`
 * (exactly one of them). Unknown client and wrong secret give the same answer.
 */
export function authenticateClient(
  clients: ReadonlyMap<string, SimClient>,
  authorization: string | undefined,
  params: URLSearchParams,
): ClientAuthResult {
  const postId = params.get("client_id");
  const postSecret = params.get("client_secret");
  let claimed: { id: string; secret: string; method: ClientAuthMethod };

  if (authorization !== undefined) {
    const basic = parseBasic(authorization);
    if (!basic) {
      return {
        ok: false,
        error: "invalid_client",
        description: "Authorization header is not valid Basic client credentials",
      };
    }
    if (postSecret !== null) {
      return {
        ok: false,
        error: "invalid_request",
        description:
          "use one client authentication method, not client_secret_basic and client_secret_post together",
        claimedClientId: basic.id,
      };
    }
    if (postId !== null && postId !== basic.id) {
      return {
        ok: false,
        error: "invalid_request",
        description: "client_id in the body does not match the Basic credentials",
        claimedClientId: basic.id,
      };
    }
    claimed = { ...basic, method: "client_secret_basic" };
  } else if (postId !== null && postSecret !== null) {
    claimed = { id: postId, secret: postSecret, method: "client_secret_post" };
  } else if (postSecret !== null) {
    return { ok: false, error: "invalid_request", description: "client_secret without client_id" };
  } else {
    return {
      ok: false,
      error: "invalid_client",
      description: "client authentication required (client_secret_basic or client_secret_post)",
      ...(postId === null ? {} : { claimedClientId: postId }),
    };
  }

  const client = clients.get(claimed.id);
  if (!secretMatches(claimed.secret, client?.clientSecret) || !client) {
    return {
      ok: false,
      error: "invalid_client",
      description: "client authentication failed",
      claimedClientId: claimed.id,
    };
  }
  return { ok: true, client, method: claimed.method };
}
