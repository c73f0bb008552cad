import {
  type LimitDecision,
  type LimitName,
  rateLimitHeaders,
  refusalMessage,
} from "@propgate/api";
import { SURFACE_SCOPES, type SurfaceScope } from "@propgate/domain";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { PartnerClientRecord } from "./config.ts";
import {
  enforceSurfaceBlock,
  type PartnerSurface,
  type SurfaceContext,
  type SurfaceEnv,
} from "./context.ts";
import { OAuthError } from "./errors.ts";

const CLIENT_ID = /^[A-Za-z0-9._-]{3,64}$/;
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replaceAll("+", " "));
}

function basicCredentials(header: string): { clientId: string; secret: string } {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/.exec(header);
  const decoded = match?.[1] ? Buffer.from(match[1], "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  if (colon < 1) throw new OAuthError(401, "invalid_client", "malformed Basic credentials");
  try {
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw new OAuthError(401, "invalid_client", "malformed Basic credentials");
  }
}

/**
 * The token request's form (RFC 6749 §4.4.2; with client_secret_post the credentials too). The
 * fields are read one by one with `single`, which takes only these names; others are ignored.
 */
export const TokenRequestForm = z.object({
  grant_type: z.literal("client_credentials"),
  scope: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
});

/** RFC 6749 §5.1 answer; `scope` is always there, since a client may get fewer than it asked. */
export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().positive(),
  scope: z.string(),
});

/** The one value of a form parameter; RFC 6749 §3.2 forbids repeating one. */
function single(
  form: URLSearchParams,
  name: keyof z.infer<typeof TokenRequestForm>,
): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new OAuthError(400, "invalid_request", `${name} is repeated`);
  return values[0];
}

function grantedScopes(client: PartnerClientRecord, requested: string | undefined): SurfaceScope[] {
  if (requested === undefined) return [...client.scopes];
  const names = requested.split(" ");
  if (names.some((name) => name === "")) {
    throw new OAuthError(400, "invalid_scope", "scope must be space-separated scope names");
  }
  const scopes: SurfaceScope[] = [];
  for (const name of new Set(names)) {
    const known = SURFACE_SCOPES.find((scope) => scope === name);
    if (!known || !client.scopes.includes(known)) {
      throw new OAuthError(400, "invalid_scope", "a requested scope is not granted to this client");
    }
    scopes.push(known);
  }
  return scopes;
}

/**
 * Counts the request against one of the token endpoint's limits. Under it, its RateLimit fields
 * go on whatever the answer is; over it, `429 slow_down` with `Retry-After` and the fields of
 * every limit counted so far, before anything costly ran.
 */
async function countTokenRequest(
  surface: PartnerSurface,
  c: SurfaceContext,
  counted: LimitDecision[],
  limit: LimitName,
  key: string | null,
): Promise<void> {
  const rateLimits = surface.deps.rateLimits;
  if (!rateLimits || !key) return;
  const decision = await rateLimits.consume(limit, key);
  counted.push(decision);
  if (!decision.allowed) {
    throw new OAuthError(
      429,
      "slow_down",
      refusalMessage(decision),
      Object.fromEntries(rateLimitHeaders(counted)),
    );
  }
  for (const [name, value] of rateLimitHeaders([decision])) c.header(name, value, { append: true });
}

/**
 * `POST /oauth/token`: OAuth 2.0 client credentials (RFC 6749 §4.4) with client_secret_basic or
 * client_secret_post. Secrets are checked with `Bun.password.verify` against the registered hash;
 * an unknown client — or a registered one asked for from outside its addresses — is checked
 * against a throwaway hash so both cost the same time. Before that check (invariant 7): blocks,
 * the limits per peer and per client id, then a verification slot.
 */
export function tokenRoutes(surface: PartnerSurface) {
  const app = new Hono<SurfaceEnv>();
  let decoy: Promise<string> | undefined;

  app.use(
    bodyLimit({
      maxSize: surface.maxBodyBytes,
      onError: () => {
        throw new OAuthError(400, "invalid_request", "body too large");
      },
    }),
  );

  app.post("/token", async (c) => {
    c.header("cache-control", NO_STORE["cache-control"]);
    c.header("pragma", NO_STORE.pragma);
    const counted: LimitDecision[] = [];
    // The peer is judged before anything of its request is read; a blocked one is not counted.
    enforceSurfaceBlock(surface, "ip", c.get("peer"));
    await countTokenRequest(surface, c, counted, "partner_token_peer", c.get("peer"));
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
      throw new OAuthError(400, "invalid_request", "the body must be form-urlencoded");
    }
    const form = new URLSearchParams(await c.req.text());
    const grantType = single(form, "grant_type");
    if (!grantType) throw new OAuthError(400, "invalid_request", "grant_type is missing");
    if (grantType !== "client_credentials") {
      throw new OAuthError(400, "unsupported_grant_type", "only client_credentials is supported");
    }

    const authorization = c.req.header("authorization");
    const postedId = single(form, "client_id");
    const postedSecret = single(form, "client_secret");
    if (authorization && postedSecret !== undefined) {
      throw new OAuthError(400, "invalid_request", "use one client authentication method");
    }
    const credentials = authorization
      ? basicCredentials(authorization)
      : postedId && postedSecret !== undefined
        ? { clientId: postedId, secret: postedSecret }
        : null;
    // Some clients repeat client_id in the body next to Basic; it must then name the same client.
    if (authorization && postedId !== undefined && postedId !== credentials?.clientId) {
      throw new OAuthError(400, "invalid_request", "client_id differs from the Basic credentials");
    }
    if (!credentials) throw new OAuthError(401, "invalid_client", "client authentication failed");
    // Blocked and limited before the costly secret check: a guesser gets nothing more for its
    // tries. A registered id asked for from another peer is treated as an unknown id (same
    // answer, same work): its block and its limit are the client's own, never the guesser's
    // to spend. Other ids are counted per (id, peer); the per-peer limit bounds how many ids
    // one peer can make us count, and malformed ones share one key.
    const wellFormed = CLIENT_ID.test(credentials.clientId);
    const peer = c.get("peer");
    const client = wellFormed ? surface.clientAt(credentials.clientId, peer) : undefined;
    if (client) enforceSurfaceBlock(surface, "partner_client", client.clientId);
    await countTokenRequest(
      surface,
      c,
      counted,
      "partner_token_client",
      client ? client.clientId : wellFormed ? `${credentials.clientId}@${peer}` : "(malformed)",
    );

    const release = await surface.verifications.acquire();
    if (!release) {
      surface.deps.metrics.partnerSurfaceRefused.inc({ reason: "verifications_busy" });
      throw new OAuthError(
        503,
        "temporarily_unavailable",
        "too many token requests are being checked, try again in 1 s",
        { "retry-after": "1" },
      );
    }
    let valid: boolean;
    try {
      decoy ??= Bun.password.hash(crypto.randomUUID());
      const hash = client?.secretHash ?? (await decoy);
      valid = await Bun.password.verify(credentials.secret, hash).catch(() => false);
    } finally {
      release();
    }
    surface.deps.metrics.partnerTokenVerifications.inc({
      result: client && valid ? "valid" : "invalid",
    });
    if (!client || !valid) {
      // The guessing peer is what a block stops, never the client whose id it tried.
      surface.deps.watch?.observe("token_failures_peer", peer);
      if (wellFormed)
        surface.deps.watch?.observe("token_failures_client", peer, credentials.clientId);
      surface.deps.logger.warn(
        {
          requestId: c.get("requestId"),
          ip: peer,
          clientId: wellFormed ? credentials.clientId : "(malformed)",
        },
        "partner client authentication failed",
      );
      throw new OAuthError(401, "invalid_client", "client authentication failed");
    }

    const scopes = grantedScopes(client, single(form, "scope"));
    const { accessToken, expiresIn } = await surface.tokens.issue({
      clientId: client.clientId,
      partner: client.partner,
      scopes,
    });
    c.set("client", { clientId: client.clientId, partner: client.partner, scopes });
    return c.json({
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: expiresIn,
      scope: scopes.join(" "),
    } satisfies z.infer<typeof TokenResponse>);
  });
  return app;
}
