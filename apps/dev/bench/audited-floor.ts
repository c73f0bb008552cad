import { createHash, randomUUID } from "node:crypto";
import { createAuditWriter, type Database, openDatabase } from "@propgate/consent-audit";
import { initTRPC, TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";

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

/**
 * What both floors do per request: the resident's token checked once per token, one
 * `partner.request` row committed through the writer, then the partner's request with the
 * floor's own client-credentials token.
 */
function floorCore(db: Database, settings: FloorSettings) {
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

  /** The attempt row, committed before anything is sent (invariant 1); false when refused. */
  async function commit(userId: string, sourceApp: string): Promise<boolean> {
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
        { sourceApp, instanceId: sourceApp },
      );
      return true;
    } catch {
      return false;
    }
  }

  /** The partner's request at `path`, under the floor's partner token. */
  async function forward(path: string, body: BodyInit, idempotencyKey: string | null) {
    return fetch(new URL(path, upstream), {
      method: "POST",
      headers: {
        authorization: `Bearer ${await partnerToken()}`,
        "content-type": "application/json",
        "idempotency-key": idempotencyKey ?? randomUUID(),
      },
      body,
    });
  }

  return { resident, commit, forward, close: () => writer.close() };
}

export function startAuditedFloor(
  db: Database,
  settings: FloorSettings,
): { url: string; stop(): Promise<void> } {
  const floor = floorCore(db, settings);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const userId = await floor.resident(request.headers.get("authorization"));
      if (!userId) return new Response("unauthorized", { status: 401 });
      const url = new URL(request.url);
      const body = await request.arrayBuffer();
      if (!(await floor.commit(userId, "bench-floor")))
        return new Response("refused", { status: 403 });
      const answer = await floor.forward(
        url.pathname + url.search,
        body,
        request.headers.get("idempotency-key"),
      );
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      await server.stop(true);
      await floor.close();
    },
  };
}

interface StackFloorContext {
  authorization: string | null;
}

/**
 * The audited floor written on the stack DESIGN.md fixes for Propgate: a Hono app that hands
 * `/trpc/*` to tRPC's fetch adapter, one mutation `intercom.openDoor` taking Propgate's input
 * (`{ deviceId, idempotencyKey }`, zod) and answering Propgate's output (checked by zod), the
 * resident found in a tRPC middleware. Per request it does what the floor does and nothing
 * more: what it costs over the floor is the framework's, what Propgate costs over it is
 * Propgate's own.
 */
export function startStackFloor(
  db: Database,
  settings: FloorSettings & { subject: string; partnerPath: string },
): { url: string; stop(): Promise<void> } {
  const floor = floorCore(db, settings);
  const t = initTRPC.context<StackFloorContext>().create();
  const resident = t.procedure.use(async ({ ctx, next }) => {
    const userId = await floor.resident(ctx.authorization);
    if (!userId) throw new TRPCError({ code: "UNAUTHORIZED" });
    return next({ ctx: { userId } });
  });
  const OpenAnswer = z.object({ eventId: z.string().min(1), openedAt: z.string() });
  const router = t.router({
    intercom: t.router({
      openDoor: resident
        .input(
          z.strictObject({
            deviceId: z.string().min(1).max(128),
            idempotencyKey: z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/),
          }),
        )
        .output(
          z.object({ status: z.literal("opened"), eventId: z.string(), at: z.iso.datetime() }),
        )
        .mutation(async ({ ctx, input }) => {
          if (!(await floor.commit(ctx.userId, "bench-stack-floor")))
            throw new TRPCError({ code: "FORBIDDEN" });
          const answer = await floor.forward(
            settings.partnerPath,
            JSON.stringify({ subject: settings.subject }),
            input.idempotencyKey,
          );
          if (!answer.ok) throw new TRPCError({ code: "BAD_GATEWAY" });
          const opened = OpenAnswer.parse(await answer.json());
          return {
            status: "opened" as const,
            eventId: opened.eventId,
            at: new Date(opened.openedAt).toISOString(),
          };
        }),
    }),
  });
  const app = new Hono();
  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router,
      createContext: () => ({ authorization: c.req.header("authorization") ?? null }),
    }),
  );
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  return {
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      await server.stop(true);
      await floor.close();
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
  const settings = {
    target: need("BENCH_FLOOR_TARGET"),
    issuer: need("AUTH_ISSUER"),
    audience: need("AUTH_AUDIENCE"),
    jwksUrl: need("AUTH_JWKS_URL"),
    clientId: need("PARTNER_INTERCOM_CLIENT_ID"),
    clientSecret: need("PARTNER_INTERCOM_CLIENT_SECRET"),
  };
  const floor =
    process.env.BENCH_FLOOR_KIND === "stack"
      ? startStackFloor(handle.db, {
          ...settings,
          subject: need("BENCH_FLOOR_SUBJECT"),
          partnerPath: need("BENCH_FLOOR_PARTNER_PATH"),
        })
      : startAuditedFloor(handle.db, settings);
  console.log(`audited floor listening ${floor.url}`);
  process.once("SIGTERM", () => void floor.stop().then(() => process.exit(0)));
}
