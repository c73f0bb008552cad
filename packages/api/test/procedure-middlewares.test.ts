import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type {
  AuditWriter,
  ConsentCache,
  DeviceCache,
  JournalWriter,
  SubjectRegistry,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import type { AnomalyKind } from "@propgate/domain";
import { TRACING_OFF } from "@propgate/observability";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { createAdminReadLimits } from "../src/admin/read-limits.ts";
import type { AppDeps, Principal, Watch } from "../src/index.ts";
import { RequestTiming } from "../src/timing.ts";
import {
  adminActProcedure,
  adminAuditExportProcedure,
  adminAuditVerifyProcedure,
  adminReadProcedure,
  type Context,
  partnerProcedure,
  residentProcedure,
  router,
} from "../src/trpc.ts";
import {
  countingRateLimits,
  memorySubjects,
  memoryWatch,
  only,
  partnerCallServices,
  TEST_SETTINGS,
  tokenVerifier,
} from "./fake-services.ts";
import { observed } from "./fixtures/observed.ts";

/**
 * The procedure middlewares of `trpc.ts` through tRPC's fetch handler, in-process: what a caller
 * sees (status, `data.cause`, `requestId`, the RateLimit fields) and what the watch, the limits,
 * the audit context and the log are told. The handlers below only echo what reached them.
 */

const ANNA: Principal = { userId: "resident-anna", sites: ["site-a"], units: [], adminRole: null };
const VERA: Principal = { userId: "admin-vera", sites: [], units: [], adminRole: "viewer" };
const OLEG: Principal = { userId: "admin-oleg", sites: [], units: [], adminRole: "operator" };
const ADDRESS = "198.51.100.7";

/** Runs while a test holds it: one audit export or verify "in progress". */
let auditWalk: Promise<void> = Promise.resolve();

const procedures = router({
  me: residentProcedure.query(({ ctx }) => ({ userId: ctx.principal.userId, audit: ctx.audit })),
  failing: residentProcedure.query(() => {
    throw new Error("password=hunter2 refused by db-1.internal");
  }),
  openDoor: partnerProcedure("intercom.open", { limit: "open" }).mutation(({ ctx }) => ({
    userId: ctx.call.principal.userId,
    operation: ctx.call.operation,
    purpose: ctx.call.purpose,
    audit: ctx.call.audit,
    timedWithTheRequest: ctx.call.timing === ctx.timing,
  })),
  addPlate: partnerProcedure("plates.add").mutation(() => "added"),
  listPlates: partnerProcedure("plates.list", { whileBlocked: true }).query(() => "listed"),
  adminRole: adminReadProcedure.query(({ ctx }) => ctx.adminRole),
  statementTimeout: adminReadProcedure.query(async ({ ctx }) => {
    // postgres.js answers a row list (the PGlite case never asks).
    const rows = await ctx.deps.database.db.execute("show statement_timeout");
    return (rows as unknown as Array<{ statement_timeout: string }>)[0];
  }),
  slowRead: adminReadProcedure.query(async ({ ctx }) => {
    await ctx.deps.database.db.execute("select pg_sleep(0.5)");
    return "read";
  }),
  act: adminActProcedure.mutation(({ ctx }) => ctx.audit),
  exportAudit: adminAuditExportProcedure.query(() => auditWalk.then(() => "exported")),
  verifyAudit: adminAuditVerifyProcedure.query(() => auditWalk.then(() => "verified")),
});

/** One api instance's services as fakes; what the procedures must not touch throws. */
function instance(options: { quotas?: Parameters<typeof countingRateLimits>[0] } = {}) {
  const { services } = partnerCallServices([]);
  const watch = memoryWatch();
  const rateLimits = countingRateLimits(options.quotas);
  const subjects = memorySubjects();
  const { logger, logs: lines } = observed();
  const deps: AppDeps = {
    settings: TEST_SETTINGS,
    tracing: TRACING_OFF,
    database: only("database"),
    auditWriter: only<AuditWriter>("auditWriter", services.auditWriter),
    journalWriter: only<JournalWriter>("journalWriter"),
    watch: only<Watch>("watch", watch),
    adminReads: createAdminReadLimits({
      readStatementTimeoutMs: 100,
      auditStatementTimeoutMs: 60_000,
    }),
    logger,
    metrics: services.metrics,
    verifier: tokenVerifier({ anna: ANNA, vera: VERA, oleg: OLEG }),
    partners: only("partners"),
    devices: only<DeviceCache>("devices", services.devices),
    consents: only<ConsentCache>("consents", services.consents),
    subjects: only<SubjectRegistry>("subjects", subjects),
    units: { confirm: async () => {} },
    inflight: services.inflight,
    rateLimits,
    journalEvents: only("journalEvents"),
    receiptSigner: null,
  };
  return { deps, watch, rateLimits, subjects, lines };
}

interface Answer {
  status: number;
  data: unknown;
  error: {
    message: string;
    data: {
      code: string;
      httpStatus: number;
      cause: { code: string; retryAfterSeconds?: number };
      requestId: string | null;
    };
  } | null;
  headers: Headers;
}

async function call(
  deps: AppDeps,
  path: keyof typeof procedures._def.procedures,
  options: { token?: string; input?: unknown; mutation?: boolean; address?: string } = {},
): Promise<Answer> {
  const url = new URL(`http://api.test/trpc/${path}`);
  if (!options.mutation && options.input !== undefined)
    url.searchParams.set("input", JSON.stringify(options.input));
  const request = options.mutation
    ? new Request(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(options.input ?? {}),
      })
    : new Request(url);
  const responseHeaders = new Headers();
  const address = options.address ?? ADDRESS;
  const context: Context = {
    deps,
    requestId: "req-42",
    clientIp: address,
    clientAddress: address,
    authorization: options.token ? `Bearer ${options.token}` : null,
    responseHeaders,
    timing: new RequestTiming(),
  };
  const response = await fetchRequestHandler({
    endpoint: "/trpc",
    req: request,
    router: procedures,
    createContext: () => context,
  });
  const body = (await response.json()) as { result?: { data: unknown }; error?: Answer["error"] };
  return {
    status: response.status,
    data: body.result?.data,
    error: body.error ?? null,
    headers: responseHeaders,
  };
}

/** What a refused caller reads: the status, the cause and the request's id. */
function refusal(answer: Answer) {
  return {
    status: answer.status,
    cause: answer.error?.data.cause,
    requestId: answer.error?.data.requestId,
  };
}

describe("residentProcedure: who calls, from where", () => {
  test("a call without a bearer token is UNAUTHORIZED (401), and its address's failure is counted", async () => {
    const { deps, watch, rateLimits } = instance();
    const answer = await call(deps, "me");
    expect(refusal(answer)).toEqual({
      status: 401,
      cause: { code: "UNAUTHORIZED" },
      requestId: "req-42",
    });
    expect(answer.error?.message).toBe("a bearer token is required");
    expect(watch.observed).toEqual([["auth_failures", ADDRESS]]);
    expect(rateLimits.consumed).toEqual([]);
  });

  test("a token that fails verification is UNAUTHORIZED (401) with the verifier's reason", async () => {
    const { deps, watch } = instance();
    const answer = await call(deps, "me", { token: "forged" });
    expect(refusal(answer)).toEqual({
      status: 401,
      cause: { code: "UNAUTHORIZED" },
      requestId: "req-42",
    });
    expect(answer.error?.message).toBe("the token is not valid for this service");
    expect(watch.observed).toEqual([["auth_failures", ADDRESS]]);
  });

  test("a blocked address with a valid token is served: the token is checked before the block", async () => {
    const { deps, watch } = instance();
    watch.block("ip", ADDRESS, "credential_guessing");
    const answer = await call(deps, "me", { token: "anna" });
    expect(answer.status).toBe(200);
    expect(answer.data).toMatchObject({ userId: ANNA.userId });
  });

  test.each([
    ["a bad", "forged"],
    ["no", undefined],
  ])(
    "a blocked address with %s token is BLOCKED (403) with the seconds left, its try not counted again",
    async (_case, token) => {
      const { deps, watch } = instance();
      watch.block("ip", ADDRESS, "credential_guessing", 600);
      const answer = await call(deps, "me", { token });
      expect(refusal(answer)).toEqual({
        status: 403,
        cause: { code: "BLOCKED", retryAfterSeconds: 600 },
        requestId: "req-42",
      });
      expect(answer.error?.message).toBe(
        "blocked for 600 s after unusual activity (credential_guessing); try again later",
      );
      expect(watch.observed).toEqual([]);
    },
  );

  test("every signed-in call counts against the resident's limit; over it, RATE_LIMITED (429)", async () => {
    const { deps, rateLimits } = instance({ quotas: { resident: 1 } });
    const first = await call(deps, "me", { token: "anna" });
    expect(first.status).toBe(200);
    expect(first.headers.get("RateLimit")).toBe('"resident";r=0;t=42');
    expect(first.headers.get("RateLimit-Policy")).toBe('"resident";q=1;w=60');
    const second = await call(deps, "me", { token: "anna" });
    expect(refusal(second)).toEqual({
      status: 429,
      cause: { code: "RATE_LIMITED", retryAfterSeconds: 42 },
      requestId: "req-42",
    });
    expect(second.error?.message).toBe("too many requests, try again in 42 s");
    expect(rateLimits.consumed).toEqual([
      ["resident", ANNA.userId],
      ["resident", ANNA.userId],
    ]);
  });

  test("an admin's calls count against the admin limit, not the residents'", async () => {
    // One admin screen makes several calls: an admin is not held to a resident's quota.
    const { deps, rateLimits } = instance({ quotas: { resident: 1, admin: 3 } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call(deps, "me", { token: "vera" }));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]?.headers.get("RateLimit-Policy")).toBe('"admin";q=3;w=60');
    expect(rateLimits.consumed).toEqual(Array(4).fill(["admin", VERA.userId]));
    expect((await call(deps, "me", { token: "anna" })).status).toBe(200);
  });

  test("the token's sites are confirmed on each call; when that fails, a warning and the call goes on", async () => {
    const { deps, subjects, lines } = instance();
    expect((await call(deps, "me", { token: "anna" })).status).toBe(200);
    expect(subjects.confirmed).toEqual([["site-a"]]);
    subjects.failWith(new Error("connection refused"));
    expect((await call(deps, "me", { token: "anna" })).status).toBe(200);
    expect(lines.filter((line) => line.level === "warn")).toMatchObject([
      { requestId: "req-42", msg: "could not confirm the resident's sites" },
    ]);
  });

  test("the audit rows of the call name the instance, the client's address, the request and the resident", async () => {
    const { deps } = instance();
    const answer = await call(deps, "me", { token: "anna" });
    expect(answer.data).toEqual({
      userId: ANNA.userId,
      audit: {
        sourceApp: "api",
        instanceId: "api-test",
        clientIp: ADDRESS,
        requestId: "req-42",
        actor: ANNA.userId,
      },
    });
  });

  test("an unexpected failure is INTERNAL (500) and its message never leaves", async () => {
    const { deps } = instance();
    const answer = await call(deps, "failing", { token: "anna" });
    expect(refusal(answer)).toEqual({
      status: 500,
      cause: { code: "INTERNAL" },
      requestId: "req-42",
    });
    expect(answer.error?.message).toBe("internal error");
    expect(JSON.stringify(answer.error)).not.toContain("hunter2");
  });
});

describe("partnerProcedure: a call that reaches a partner", () => {
  const blocked = (kind: AnomalyKind = "unusual_opening") => {
    const setUp = instance();
    setUp.watch.block("resident", ANNA.userId, kind, 300);
    return setUp;
  };

  test("a blocked resident's door open is BLOCKED (403), before it is counted or limited", async () => {
    const { deps, watch, rateLimits } = blocked();
    const answer = await call(deps, "openDoor", { token: "anna", mutation: true });
    expect(refusal(answer)).toEqual({
      status: 403,
      cause: { code: "BLOCKED", retryAfterSeconds: 300 },
      requestId: "req-42",
    });
    expect(watch.observed).toEqual([]);
    expect(rateLimits.consumed).toEqual([]);
  });

  test("a blocked resident is refused what acts (plates.add), never a list or a removal of theirs", async () => {
    const { deps } = blocked("enumeration");
    const adding = await call(deps, "addPlate", { token: "anna", mutation: true });
    expect(refusal(adding).cause).toEqual({ code: "BLOCKED", retryAfterSeconds: 300 });
    const listing = await call(deps, "listPlates", { token: "anna" });
    expect(listing.status).toBe(200);
    expect(listing.data).toBe("listed");
  });

  test("a door open is counted by the unusual-opening rule and the open limit; over it, RATE_LIMITED", async () => {
    const { deps, watch, rateLimits } = instance({ quotas: { open: 1 } });
    expect((await call(deps, "openDoor", { token: "anna", mutation: true })).status).toBe(200);
    const second = await call(deps, "openDoor", { token: "anna", mutation: true });
    expect(refusal(second)).toEqual({
      status: 429,
      cause: { code: "RATE_LIMITED", retryAfterSeconds: 42 },
      requestId: "req-42",
    });
    // Both limits' fields, one item each, on the response.
    expect(second.headers.get("RateLimit")).toBe('"resident";r=998;t=42, "open";r=0;t=42');
    expect(watch.observed).toEqual([
      ["opens", ANNA.userId],
      ["opens", ANNA.userId],
    ]);
    expect(rateLimits.consumed.filter(([limit]) => limit === "open")).toHaveLength(2);
  });

  test("a door open asks for its resident and open counts at once, not one after the other", async () => {
    // With Redis each count is a round trip: asked together they share one (and one write).
    const { deps, rateLimits } = instance();
    const events: string[] = [];
    const counting = rateLimits.consume;
    deps.rateLimits = {
      ...rateLimits,
      async consume(limit, key) {
        events.push(`ask ${limit}`);
        await Promise.resolve();
        const decision = await counting(limit, key);
        events.push(`answer ${limit}`);
        return decision;
      },
    };
    expect((await call(deps, "openDoor", { token: "anna", mutation: true })).status).toBe(200);
    expect(events).toEqual(["ask resident", "ask open", "answer resident", "answer open"]);
  });

  test("a list or an add is not counted against the open limit", async () => {
    const { deps, watch, rateLimits } = instance();
    await call(deps, "listPlates", { token: "anna" });
    await call(deps, "addPlate", { token: "anna", mutation: true });
    expect(rateLimits.consumed.map(([limit]) => limit)).toEqual(["resident", "resident"]);
    expect(watch.observed).toEqual([]);
  });

  test("the call's scope names the resident, the operation and its purpose, and the request's timing", async () => {
    const { deps } = instance();
    const answer = await call(deps, "openDoor", { token: "anna", mutation: true });
    expect(answer.data).toEqual({
      userId: ANNA.userId,
      operation: "intercom.open",
      purpose: "intercom",
      audit: {
        sourceApp: "api",
        instanceId: "api-test",
        clientIp: ADDRESS,
        requestId: "req-42",
        actor: ANNA.userId,
      },
      timedWithTheRequest: true,
    });
  });
});

describe("admin procedures: roles, reasons, bounded reads", () => {
  // Admin reads run on a transaction of their own (`withStatementTimeout`): a real database.
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
  }, 60_000);
  afterAll(async () => {
    await database.close();
  }, 60_000);
  const onDatabase = (): AppDeps => ({ ...instance().deps, database });

  test("a resident's token on an admin read is FORBIDDEN (403)", async () => {
    const deps = onDatabase();
    const answer = await call(deps, "adminRole", { token: "anna" });
    expect(refusal(answer).cause).toEqual({ code: "FORBIDDEN" });
    expect(answer.status).toBe(403);
    expect(answer.error?.message).toBe("an admin role (viewer or operator) is required");
    expect((await call(deps, "adminRole", { token: "vera" })).data).toBe("viewer");
  });

  test("a viewer's action is FORBIDDEN before its input is read", async () => {
    const { deps } = instance();
    const answer = await call(deps, "act", { token: "vera", mutation: true, input: {} });
    expect(refusal(answer).cause).toEqual({ code: "FORBIDDEN" });
    expect(answer.error?.message).toBe(
      "the viewer role reads only; this action needs the operator role",
    );
    const resident = await call(deps, "act", { token: "anna", mutation: true, input: {} });
    expect(resident.error?.message).toBe("the operator role is required");
  });

  test("an operator's action needs a reason (INVALID_INPUT), which then rides on its audit rows", async () => {
    const { deps } = instance();
    const without = await call(deps, "act", { token: "oleg", mutation: true, input: {} });
    expect(refusal(without)).toEqual({
      status: 400,
      cause: { code: "INVALID_INPUT" },
      requestId: "req-42",
    });
    const answer = await call(deps, "act", {
      token: "oleg",
      mutation: true,
      input: { reason: "ticket 1234" },
    });
    expect(answer.data).toMatchObject({ actor: OLEG.userId, reason: "ticket 1234" });
  });

  test.each([
    ["export", "exportAudit"],
    ["verify", "verifyAudit"],
  ] as const)(
    "a second audit %s while one runs is RATE_LIMITED (429) with a Retry-After",
    async (_kind, path) => {
      const deps = onDatabase();
      let finish: () => void = () => {};
      auditWalk = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const first = call(deps, path, { token: "vera" });
      const second = await call(deps, path, { token: "vera" });
      expect(refusal(second)).toEqual({
        status: 429,
        cause: { code: "RATE_LIMITED", retryAfterSeconds: 5 },
        requestId: "req-42",
      });
      finish();
      expect((await first).status).toBe(200);
    },
  );

  test("admin reads run under ADMIN_READ_STATEMENT_TIMEOUT_MS: a slower one is UNAVAILABLE (503)", async () => {
    const deps = onDatabase();
    if (database.kind === "pglite") {
      // PGlite has no statement timer: the bound is skipped there (docs/architecture.md).
      expect((await call(deps, "slowRead", { token: "vera" })).data).toBe("read");
      return;
    }
    expect((await call(deps, "statementTimeout", { token: "vera" })).data).toEqual({
      statement_timeout: "100ms",
    });
    const slow = await call(deps, "slowRead", { token: "vera" });
    expect(refusal(slow)).toEqual({
      status: 503,
      cause: { code: "UNAVAILABLE" },
      requestId: "req-42",
    });
  });
});
