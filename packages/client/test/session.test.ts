import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { trpcErrorEnvelope } from "@propgate/api";
import {
  createPropgateClient,
  type PropgateClientOptions,
  type PropgateError,
} from "../src/index.ts";
import { failure } from "./failure.ts";

/**
 * Session mode: the client behind a gateway that holds the session (the admin app), against a
 * real HTTP server on 127.0.0.1 answering as the gateway does — the api's tRPC envelopes passed
 * through, and the gateway's own refusals `{ error: { code, message, requestId } }`.
 */
interface Received {
  procedure: string;
  authorization: string | null;
  csrf: string | null;
}
type Answer = { status: number; body: unknown };

const received: Received[] = [];
let script: Array<() => Answer> = [];

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    received.push({
      procedure: new URL(request.url).pathname.replace(/^\/trpc\//, ""),
      authorization: request.headers.get("authorization"),
      csrf: request.headers.get("x-csrf-token"),
    });
    const answer = script.shift()?.() ?? ok(null);
    return Response.json(answer.body, { status: answer.status });
  },
});
afterAll(() => server.stop(true));
beforeEach(() => {
  received.length = 0;
  script = [];
});

const ok = (data: unknown): Answer => ({ status: 200, body: { result: { data } } });
/** The admin app's own refusal (its `errorBody`). */
const gateway = (status: number, code: string, message: string): Answer => ({
  status,
  body: { error: { code, message, requestId: `gw-${code.toLowerCase()}` } },
});
const unauthorized = (): Answer => ({
  status: 401,
  body: trpcErrorEnvelope({
    code: "UNAUTHORIZED",
    httpStatus: 401,
    message: "invalid token",
    cause: { code: "UNAUTHORIZED" },
    requestId: "req_unauthorized",
  }),
});

function sessionClient(options: Partial<PropgateClientOptions> = {}) {
  return createPropgateClient({ url: server.url.origin, ...options });
}

describe("session mode (no getToken)", () => {
  test("no Authorization header is sent, and an UNAUTHORIZED is the error: no replay", async () => {
    script = [() => ok({ userId: "dev-operator", role: "operator" }), unauthorized];
    const client = sessionClient();
    expect(await client.admin.me.query()).toEqual({ userId: "dev-operator", role: "operator" });
    const error = await failure(client.admin.me.query());
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.httpStatus).toBe(401);
    expect(received.map((r) => r.authorization)).toEqual([null, null]);
  });

  test("the headers function is read before every request: a CSRF token read later is sent", async () => {
    let csrf = "";
    let reads = 0;
    const client = sessionClient({
      headers: () => {
        reads++;
        return { "x-csrf-token": csrf };
      },
    });
    await client.admin.me.query();
    csrf = "csrf-after-session";
    await client.admin.consents.revoke.mutate({
      userId: "resident-1",
      purpose: "intercom",
      reason: "the resident asked",
    });
    expect(received.map((r) => r.csrf)).toEqual(["", "csrf-after-session"]);
    expect(reads).toBe(2);
  });

  test("an async headers function is awaited; a bearer token wins over its authorization", async () => {
    const client = createPropgateClient({
      url: server.url.origin,
      getToken: () => "token-1",
      headers: async () => ({ Authorization: "Bearer not-this-one", "x-csrf-token": "c1" }),
    });
    await client.devices.list.query();
    expect(received).toEqual([
      { procedure: "devices.list", authorization: "Bearer token-1", csrf: "c1" },
    ]);
  });

  test("credentials are passed to the given fetch, and to the global one looked up per call", async () => {
    const seen: Array<string | undefined> = [];
    const client = sessionClient({
      credentials: "same-origin",
      fetch: (input, init) => {
        seen.push((init as RequestInit | undefined)?.credentials);
        return fetch(input, init as RequestInit);
      },
    });
    await client.admin.me.query();
    expect(seen).toEqual(["same-origin"]);

    const original = globalThis.fetch;
    const globalSeen: Array<string | undefined> = [];
    const recording = (input: RequestInfo | URL, init?: RequestInit) => {
      globalSeen.push(init?.credentials);
      return original(input, init);
    };
    const withGlobal = sessionClient({ credentials: "include" });
    globalThis.fetch = Object.assign(recording, { preconnect: original.preconnect });
    try {
      await withGlobal.admin.me.query();
    } finally {
      globalThis.fetch = original;
    }
    expect(globalSeen).toEqual(["include"]);
  });

  test("401 SESSION_REQUIRED: onSessionRequired is told once, and the call fails with it", async () => {
    const told: PropgateError[] = [];
    script = [() => gateway(401, "SESSION_REQUIRED", "sign in first")];
    const client = sessionClient({ onSessionRequired: (error) => told.push(error) });
    const error = await failure(client.admin.audit.list.query({}));
    expect(told).toEqual([error]);
    expect(error.code).toBe("SESSION_REQUIRED");
    expect(error.httpStatus).toBe(401);
    expect(error.message).toBe("sign in first");
    expect(error.requestId).toBe("gw-session_required");
    expect(error.procedure).toBe("admin.audit.list");
    expect(received).toHaveLength(1);
  });

  test("other refusals do not tell onSessionRequired, a 401 UNAUTHORIZED of the api neither", async () => {
    const told: PropgateError[] = [];
    script = [
      unauthorized,
      () => gateway(403, "CSRF_REJECTED", "a valid x-csrf-token is required"),
    ];
    const client = sessionClient({ onSessionRequired: (error) => told.push(error) });
    await failure(client.admin.me.query());
    await failure(client.admin.me.query());
    expect(told).toEqual([]);
  });
});

describe("errors a page's error box shows", () => {
  test("a gateway's own refusal gives its code, message and request id", async () => {
    script = [
      () => gateway(403, "CSRF_REJECTED", "a valid x-csrf-token header is required"),
      () => gateway(502, "API_UNREACHABLE", "the api could not be reached"),
      () => gateway(500, "SOMETHING_NEW", "a code this client does not know"),
    ];
    const client = sessionClient();
    const csrf = await failure(
      client.admin.consents.revoke.mutate({ userId: "r1", purpose: "video", reason: "asked" }),
    );
    expect(csrf).toMatchObject({
      code: "CSRF_REJECTED",
      message: "a valid x-csrf-token header is required",
      requestId: "gw-csrf_rejected",
      httpStatus: 403,
      issues: [],
    });
    const unreachable = await failure(client.admin.me.query());
    expect(unreachable).toMatchObject({
      code: "API_UNREACHABLE",
      message: "the api could not be reached",
      httpStatus: 502,
    });
    const unknown = await failure(client.admin.me.query());
    expect(unknown.code).toBe("INTERNAL");
    expect(unknown.message).toBe("a code this client does not know");
  });

  test("the api's INVALID_INPUT carries its zod issues", async () => {
    const envelope = trpcErrorEnvelope({
      code: "BAD_REQUEST",
      httpStatus: 400,
      message: "invalid input",
      cause: { code: "INVALID_INPUT" },
      requestId: "req_invalid",
    });
    const issues = [
      { path: "userId", message: "must be an opaque user id" },
      { path: "", message: "unknown key" },
    ];
    script = [
      () => ({
        status: 400,
        body: { error: { ...envelope.error, data: { ...envelope.error.data, issues } } },
      }),
    ];
    const error = await failure(sessionClient().admin.residents.get.query({ userId: "bad id!" }));
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toBe("invalid input");
    expect(error.requestId).toBe("req_invalid");
    expect(error.issues).toEqual(issues);
  });
});
