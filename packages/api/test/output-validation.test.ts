import { expect, test } from "bun:test";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { z } from "zod";
import { type Context, publicProcedure, router } from "../src/trpc.ts";

/** The error formatter tells a bad input from an answer that failed its own `.output()`. */
const testRouter = router({
  echo: publicProcedure.input(z.strictObject({ n: z.number() })).query(({ input }) => input.n),
  broken: publicProcedure
    .output(z.object({ name: z.string() }))
    .query(() => ({ name: 42 }) as unknown as { name: string }),
});

async function call(path: string) {
  const response = await fetchRequestHandler({
    endpoint: "/trpc",
    req: new Request(`http://api.test/trpc/${path}`),
    router: testRouter,
    createContext: () => ({ requestId: "req_test" }) as Context,
  });
  const body = (await response.json()) as {
    error: { message: string; data: { cause: { code: string }; issues?: unknown[] } };
  };
  return { status: response.status, error: body.error };
}

test("a bad input is INVALID_INPUT with its issues", async () => {
  const { status, error } = await call(`echo?input=${encodeURIComponent('{"n":"x"}')}`);
  expect(status).toBe(400);
  expect(error.message).toBe("invalid input");
  expect(error.data.cause.code).toBe("INVALID_INPUT");
  expect(error.data.issues).toEqual([{ path: "n", message: expect.any(String) }]);
});

test("an answer that fails .output() is INTERNAL: no issues, no detail", async () => {
  const { status, error } = await call("broken");
  expect(status).toBe(500);
  expect(error.message).toBe("internal error");
  expect(error.data.cause.code).toBe("INTERNAL");
  expect(error.data.issues).toBeUndefined();
});
