import { Writable } from "node:stream";
import type { AppRouter, PartnerTuning } from "@propgate/api";
import { type DatabaseHandle, openDatabase } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import type { Purpose } from "@propgate/domain";
import {
  type Instance as ApiInstance,
  loadApiEnv,
  startInstance as startApi,
} from "@propgate/server";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { type EmbeddedStack, type EmbeddedStackOptions, startEmbeddedStack } from "../embedded.ts";

export interface TestStack extends EmbeddedStack {
  testDatabase: TestDatabase;
  /** Every log line the api wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** A resident's token and clients; `units` is the token's `units` claim (the flats). */
  resident(sub: string, sites?: string[], units?: string[]): Promise<Resident>;
  client(token: string | null): ReturnType<typeof createTRPCClient<AppRouter>>;
  close(): Promise<void>;
}

export interface Resident {
  userId: string;
  token: string;
  trpc: ReturnType<typeof createTRPCClient<AppRouter>>;
}

/**
 * Rate limits far above what a load test sends, for tests (and the bench) about other things;
 * so is the volume rule that would otherwise block a load test's few residents as scripts.
 */
export const HIGH_RATE_LIMITS: Record<string, string> = {
  ANOMALY_OPENS_PER_10_MINUTES: "100000",
  RATE_LIMIT_IP_PER_MINUTE: "1000000",
  RATE_LIMIT_RESIDENT_PER_MINUTE: "100000",
  RATE_LIMIT_ADMIN_PER_MINUTE: "100000",
  RATE_LIMIT_OPEN_PER_MINUTE: "10000",
  RATE_LIMIT_PARTNER_CLIENT_PER_MINUTE: "1000000",
  RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE: "100000",
  RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE: "100000",
  RATE_LIMIT_OUTBOUND_PER_SECOND: "100000",
};

/** The embedded stack on the test database (PostgreSQL with DATABASE_URL, else PGlite). */
export async function startTestStack(
  options: Partial<EmbeddedStackOptions> = {},
): Promise<TestStack> {
  const database = await createTestDatabase();
  const logs: Array<Record<string, unknown>> = [];
  const logDestination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const stack = await startEmbeddedStack({
    dataDir: null,
    database,
    logDestination,
    logLevel: "debug",
    ...options,
  });
  const client = (token: string | null) =>
    createTRPCClient<AppRouter>({
      links: [
        httpLink({
          url: `${stack.api.url}/trpc`,
          headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
        }),
      ],
    });
  return {
    ...stack,
    testDatabase: database,
    logs,
    client,
    async resident(sub, sites = ["site-a"], units) {
      const token = await stack.issuer.mint({ sub, sites, units });
      return { userId: sub, token, trpc: client(token) };
    },
    async close() {
      await stack.stop();
      await database.close();
    },
  };
}

/** The error a tRPC call failed with, for assertions on code and cause. */
export async function errorOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) {
      const data = error.data as {
        requestId: string | null;
        code: string;
        httpStatus: number;
        cause?: { code: string; retryAfterSeconds?: number };
      };
      return {
        message: error.message,
        code: data.code,
        httpStatus: data.httpStatus,
        cause: data.cause?.code ?? null,
        data,
      };
    }
    throw error;
  }
  throw new Error("expected the call to fail");
}

/** Grants every purpose the test needs, naming the current notice version. */
export async function grant(resident: Resident, purposes: Purpose[]) {
  const consents = await resident.trpc.consent.list.query();
  for (const purpose of purposes) {
    const current = consents.find((consent) => consent.purpose === purpose);
    if (!current) throw new Error(`no notice for ${purpose}`);
    await resident.trpc.consent.grant.mutate({
      purpose,
      noticeVersion: current.currentNoticeVersion,
    });
  }
}

export interface Instance extends ApiInstance {
  logs: Array<Record<string, unknown>>;
  client(token: string | null): ReturnType<typeof createTRPCClient<AppRouter>>;
}

/**
 * Another api instance beside the stack's, configured the same way, on the same database: its
 * own PostgreSQL pool when the tests run on PostgreSQL, else the same embedded PGlite.
 */
export async function startInstance(
  stack: TestStack,
  instanceId: string,
  extraEnv: Record<string, string> = {},
  options: { tuning?: PartnerTuning } = {},
): Promise<Instance> {
  const database: DatabaseHandle = stack.testDatabase.url
    ? await openDatabase({ url: stack.testDatabase.url })
    : stack.testDatabase;
  const logs: Array<Record<string, unknown>> = [];
  const logDestination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const env = loadApiEnv({
    ...stack.env,
    ...extraEnv,
    INSTANCE_ID: instanceId,
    LOG_LEVEL: "debug",
    HOST: "127.0.0.1",
    PORT: "0",
  });
  const instance = await startApi(env, { database, logDestination, tuning: options.tuning });
  const { api } = instance;
  return {
    ...instance,
    logs,
    client: (token) =>
      createTRPCClient<AppRouter>({
        links: [
          httpLink({
            url: `${api.url}/trpc`,
            headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
          }),
        ],
      }),
    async stop() {
      await instance.stop();
      if (database !== stack.testDatabase) await database.close();
    },
  };
}

/** Forgets what both simulators recorded, so each test counts only its own requests. */
export function clearRecorders(stack: TestStack): void {
  stack.sims.intercom.recorder.clear();
  stack.sims.barrier.recorder.clear();
}
