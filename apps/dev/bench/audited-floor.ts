import { createHash, randomUUID } from "node:crypto";
import { createAuditWriter, type Database, openDatabase } from "@propgate/consent-audit";
import { createRemoteJWKSet, jwtVerify } from "jose";

/**
 * The floor under any gateway that keeps Propgate's first invariant, written the way a careful
 * engineer would by hand: per request it verifies the resident's JWT (once per token: a bounded
 * map keyed by the token's SHA-256, until `exp`), commits one `partner.request` row through the
 * same group-commit writer (with its consent re-check) on the same PostgreSQL, then forwards to
 * the partner with a client-credentials token it holds. Nothing else: no device registry, rate
 * limits, idempotency, metrics, logs or response row. Its request is the partner's own
 * (`POST <operation path>`, body `{ subject }`), with the resident's token as the bearer.
 * Run as a script (`BENCH_FLOOR_TARGET`, `DATABASE_URL`, `AUTH_*`, `PARTNER_INTERCOM_CLIENT_*`)
 * it prints `audited floor listening <url>`; the bench starts it as a child like the bare proxy.
 */
export interface FloorSettings {
  target: string;
  issuer: string;
  audience: string;
  jwksUrl: string;
  clientId: string;
  clientSecret: string;
}

const MAX_TOKENS = 10_000;

export function startAuditedFloor(
  db: Database,
  settings: FloorSettings,
): { url: string; stop(): Promise<void> } {
  const upstream = new URL(settings.target);
  const keys = createRemoteJWKSet(new URL(settings.jwksUrl));
  const writer = createAuditWriter(db);
  const residents = new Map<string, { userId: string; until: number }>();
  let partner: { token: string; renewAt: number } | null = null;
  let pending: Promise<string> | null = null;

  async function resident(authorization: string | null): Promise<string | null> {
    const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : null;
    if (!token) return null;
    const key = createHash("sha256").update(token).digest("base64url");
    const known = residents.get(key);
    if (known && Date.now() < known.until) return known.userId;
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ["sub", "exp"],
      });
      if (residents.size >= MAX_TOKENS) residents.clear();
      const userId = String(payload.sub);
      residents.set(key, { userId, until: Number(payload.exp) * 1000 });
      return userId;
    } catch {
      return null;
    }
  }

  /** One client-credentials token, renewed at half its lifetime; concurrent callers share a request. */
  async function partnerToken(): Promise<string> {
    if (partner && Date.now() < partner.renewAt) return partner.token;
    pending ??= (async () => {
      const credentials = btoa(
        `${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`,
      );
      const answer = await fetch(new URL("/oauth/token", upstream), {
        method: "POST",
        headers: {
          authorization: `Basic ${credentials}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: "intercom.open" }),
      });
      const body = (await answer.json()) as { access_token?: string; expires_in?: number };
      if (!answer.ok || !body.access_token) throw new Error(`partner token: ${answer.status}`);
      partner = {
        token: body.access_token,
        renewAt: Date.now() + ((body.expires_in ?? 60) * 1000) / 2,
      };
      return body.access_token;
    })().finally(() => {
      pending = null;
    });
    return pending;
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const userId = await resident(request.headers.get("authorization"));
      if (!userId) return new Response("unauthorized", { status: 401 });
      const url = new URL(request.url);
      const body = await request.arrayBuffer();
      try {
        await writer.attempt(
          {
            userId,
            purpose: "intercom",
            operation: "intercom.open",
            partner: "intercom",
            target: "door-a1",
            attempt: 0,
            callId: randomUUID(),
          },
          { sourceApp: "bench-floor", instanceId: "bench-floor" },
        );
      } catch {
        return new Response("refused", { status: 403 });
      }
      const answer = await fetch(new URL(url.pathname + url.search, upstream), {
        method: request.method,
        headers: {
          authorization: `Bearer ${await partnerToken()}`,
          "content-type": request.headers.get("content-type") ?? "application/json",
          "idempotency-key": request.headers.get("idempotency-key") ?? randomUUID(),
        },
        body,
      });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      await server.stop(true);
      await writer.close();
    },
  };
}

if (import.meta.main) {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) {
      console.error(`${name} is required`);
      process.exit(1);
    }
    return value;
  };
  const handle = await openDatabase({ url: need("DATABASE_URL") });
  const floor = startAuditedFloor(handle.db, {
    target: need("BENCH_FLOOR_TARGET"),
    issuer: need("AUTH_ISSUER"),
    audience: need("AUTH_AUDIENCE"),
    jwksUrl: need("AUTH_JWKS_URL"),
    clientId: need("PARTNER_INTERCOM_CLIENT_ID"),
    clientSecret: need("PARTNER_INTERCOM_CLIENT_SECRET"),
  });
  console.log(`audited floor listening ${floor.url}`);
  process.once("SIGTERM", () => void floor.stop().then(() => process.exit(0)));
}
