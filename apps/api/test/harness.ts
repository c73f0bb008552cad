import { Writable } from "node:stream";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import {
  type EmbeddedStack,
  type EmbeddedStackOptions,
  startEmbeddedStack,
} from "../src/dev/embedded.ts";
import type { AppRouter } from "../src/trpc/router.ts";

export interface TestStack extends EmbeddedStack {
  /** Every log line the api wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  resident(sub: string, sites?: string[]): Promise<Resident>;
  client(token: string | null): ReturnType<typeof createTRPCClient<AppRouter>>;
  close(): Promise<void>;
}

export interface Resident {
  userId: string;
  token: string;
  trpc: ReturnType<typeof createTRPCClient<AppRouter>>;
}

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
    logs,
    client,
    async resident(sub, sites = ["site-a"]) {
      const token = await stack.issuer.mint({ sub, sites });
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
export async function grant(resident: Resident, purposes: Array<"intercom" | "barrier">) {
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
