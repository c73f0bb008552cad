import { describe, expect, test } from "bun:test";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "../src/root.ts";
import type { Context } from "../src/trpc.ts";

/**
 * A procedure called with the wrong HTTP method is refused 405 with a cause the client can act
 * on (`METHOD_NOT_ALLOWED`), not INTERNAL; an unknown procedure is NOT_FOUND. tRPC refuses both
 * before any procedure (or its context's services) runs.
 */
async function call(method: "GET" | "POST", path: string) {
  const response = await fetchRequestHandler({
    endpoint: "/trpc",
    req: new Request(`http://api.test/trpc/${path}`, {
      method,
      ...(method === "POST" ? { body: "{}", headers: { "content-type": "application/json" } } : {}),
    }),
    router: appRouter,
    createContext: () => ({ requestId: "req_method" }) as Context,
  });
  const body = (await response.json()) as {
    error: { data: { httpStatus: number; cause: { code: string }; requestId: string } };
  };
  return { status: response.status, data: body.error.data };
}

describe("the wrong HTTP method", () => {
  test("GET on a mutation is 405 METHOD_NOT_ALLOWED", async () => {
    for (const path of ["intercom.openDoor", "admin.consents.revoke"]) {
      const { status, data } = await call("GET", path);
      expect({ path, status, cause: data.cause }).toEqual({
        path,
        status: 405,
        cause: { code: "METHOD_NOT_ALLOWED" },
      });
      expect(data.requestId).toBe("req_method");
    }
  });

  test("POST on a query is 405 METHOD_NOT_ALLOWED too", async () => {
    const { status, data } = await call("POST", "devices.list");
    expect(status).toBe(405);
    expect(data.cause).toEqual({ code: "METHOD_NOT_ALLOWED" });
  });

  test("an unknown procedure is 404 NOT_FOUND, not INTERNAL", async () => {
    const { status, data } = await call("GET", "admin.nothing");
    expect(status).toBe(404);
    expect(data.cause).toEqual({ code: "NOT_FOUND" });
  });
});
