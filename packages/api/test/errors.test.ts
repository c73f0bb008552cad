import { describe, expect, test } from "bun:test";
import { ConsentRequiredError } from "@propgate/consent-audit";
import { DomainError, ERROR_CODES, type ErrorCode } from "@propgate/domain";
import { PartnerRejectedError, PartnerUnavailableError } from "@propgate/partner-client";
import { TRPCError } from "@trpc/server";
import { CausedTRPCError, toTRPCError, trpcErrorEnvelope } from "../src/errors.ts";

function domainError(code: ErrorCode, message = `a ${code} problem`): DomainError {
  class Example extends DomainError {
    readonly code = code;
  }
  return new Example(message);
}

/** What each cause must look like on the wire: the tRPC code (hence the HTTP status). */
const EXPECTED_TRPC_CODE: Record<ErrorCode, TRPCError["code"]> = {
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  FORBIDDEN_DEVICE: "FORBIDDEN",
  FORBIDDEN_SITE: "FORBIDDEN",
  CONSENT_REQUIRED: "FORBIDDEN",
  INVALID_INPUT: "BAD_REQUEST",
  RATE_LIMITED: "TOO_MANY_REQUESTS",
  BLOCKED: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  METHOD_NOT_ALLOWED: "METHOD_NOT_SUPPORTED",
  PARTNER_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  PARTNER_REJECTED: "BAD_GATEWAY",
  PARTNER_PROTOCOL_ERROR: "BAD_GATEWAY",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  INTERNAL: "INTERNAL_SERVER_ERROR",
};

describe("toTRPCError", () => {
  test("every error code maps to its tRPC code and keeps the code as the cause", () => {
    for (const code of ERROR_CODES) {
      const mapped = toTRPCError(domainError(code));
      expect(mapped).toBeInstanceOf(CausedTRPCError);
      expect({ code, trpc: mapped.code }).toEqual({ code, trpc: EXPECTED_TRPC_CODE[code] });
      expect((mapped as CausedTRPCError).propgate).toEqual({ code });
    }
  });

  test("partner and internal messages never reach the client; the resident's own do", () => {
    const partner = toTRPCError(
      new PartnerRejectedError("partner said: plate AB123 exists", 409, "plate exists"),
    );
    expect(partner.message).toBe("the partner service refused the request");
    const unknown = toTRPCError(new Error("connection to 10.0.0.5 refused, password=…"));
    expect(unknown.message).toBe("internal error");
    expect((unknown as CausedTRPCError).propgate).toEqual({ code: "INTERNAL" });
    expect(toTRPCError(new ConsentRequiredError("video", "evt_x")).message).toBe(
      "consent for this purpose is required",
    );
    expect(toTRPCError(domainError("INVALID_INPUT", "plate is not valid")).message).toBe(
      "plate is not valid",
    );
  });

  test("the database out of reach is UNAVAILABLE (503, retry in 2 s), other database errors INTERNAL", () => {
    // As postgres.js and drizzle throw them: a code on the error or on its cause.
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
      code: "ECONNREFUSED",
    });
    const wrapped = new Error("Failed query: insert into …", { cause: refused });
    const shutdown = Object.assign(
      new Error("terminating connection due to administrator command"),
      {
        code: "57P01",
      },
    );
    const closed = Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
      code: "CONNECTION_CLOSED",
    });
    for (const error of [refused, wrapped, shutdown, closed]) {
      const mapped = toTRPCError(error) as CausedTRPCError;
      expect(mapped.code).toBe("SERVICE_UNAVAILABLE");
      expect(mapped.message).toBe("the service is unavailable, try again later");
      expect(mapped.propgate).toEqual({ code: "UNAVAILABLE", retryAfterSeconds: 2 });
      expect(mapped.cause).toBe(error); // for the log line, never the client
    }
    const unique = Object.assign(new Error("duplicate key value violates unique constraint"), {
      code: "23505",
    });
    expect((toTRPCError(unique) as CausedTRPCError).propgate).toEqual({ code: "INTERNAL" });
  });

  test("a statement past its timeout (an admin read) is UNAVAILABLE with no time promised", () => {
    const cancelled = Object.assign(new Error("canceling statement due to statement timeout"), {
      code: "57014",
    });
    const mapped = toTRPCError(new Error("Failed query: select …", { cause: cancelled }));
    expect(mapped.code).toBe("SERVICE_UNAVAILABLE");
    expect((mapped as CausedTRPCError).propgate).toEqual({ code: "UNAVAILABLE" });
  });

  test("retryAfterSeconds travels with the cause when it is known", () => {
    expect(
      (toTRPCError(new PartnerUnavailableError("busy", 7)) as CausedTRPCError).propgate,
    ).toEqual({
      code: "PARTNER_UNAVAILABLE",
      retryAfterSeconds: 7,
    });
    expect((toTRPCError(new PartnerUnavailableError("down")) as CausedTRPCError).propgate).toEqual({
      code: "PARTNER_UNAVAILABLE",
    });
  });

  test("a tRPC error passes through untouched", () => {
    const own = new TRPCError({ code: "NOT_FOUND", message: "no such procedure" });
    expect(toTRPCError(own)).toBe(own);
  });
});

describe("trpcErrorEnvelope", () => {
  test("builds the refusals made before tRPC runs with tRPC's own JSON-RPC codes", () => {
    expect(
      trpcErrorEnvelope({
        code: "TOO_MANY_REQUESTS",
        httpStatus: 429,
        message: "too many requests, try again in 12 s",
        cause: { code: "RATE_LIMITED", retryAfterSeconds: 12 },
        requestId: "req_1",
      }),
    ).toEqual({
      error: {
        message: "too many requests, try again in 12 s",
        code: -32029,
        data: {
          code: "TOO_MANY_REQUESTS",
          httpStatus: 429,
          cause: { code: "RATE_LIMITED", retryAfterSeconds: 12 },
          requestId: "req_1",
        },
      },
    });
    expect(
      trpcErrorEnvelope({
        code: "BAD_REQUEST",
        httpStatus: 400,
        message: "request body larger than 65536 bytes",
        cause: { code: "INVALID_INPUT" },
        requestId: "req_2",
      }).error.code,
    ).toBe(-32600);
  });
});
