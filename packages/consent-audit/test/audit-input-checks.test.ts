import { describe, expect, test } from "bun:test";
import { type AuditContext, parseAuditContext } from "../src/audit";
import { InvalidInputError } from "../src/index";
import {
  checkedAttempt,
  checkedResult,
  type PartnerAttemptInput,
  PartnerAttemptSchema,
  type PartnerResultInput,
  PartnerResultSchema,
} from "../src/partner-gate";

/** What zod makes of `input`: its output, or the fact that it refused it. */
function zodOf(schema: typeof PartnerAttemptSchema | typeof PartnerResultSchema, input: unknown) {
  const parsed = schema.safeParse(input);
  return parsed.success ? { ok: parsed.data } : "refused";
}

function checkedOf(check: () => unknown) {
  try {
    return { ok: check() };
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return "refused";
  }
}

const attempt: PartnerAttemptInput = {
  userId: "usr_1",
  purpose: "intercom",
  operation: "intercom.open",
  partner: "intercom",
  target: "door-a1",
  attempt: 1,
  callId: "call_1",
};

const result: PartnerResultInput = {
  callId: "call_1",
  operation: "intercom.open",
  partner: "intercom",
  target: "door-a1",
  userId: "usr_1",
  purpose: "intercom",
  attempt: 1,
  result: "success",
  errorCode: null,
  httpStatus: 200,
  latencyMs: 3,
};

describe("the audit writer's quick checks answer as the schemas do", () => {
  const attempts: unknown[] = [
    attempt,
    { ...attempt, target: null },
    { ...attempt, target: undefined, endsProcessing: true },
    { ...attempt, endsProcessing: undefined },
    (({ target: _, ...rest }) => rest)(attempt),
    { ...attempt, userId: "" },
    { ...attempt, userId: "u".repeat(129) },
    { ...attempt, purpose: "journal" },
    { ...attempt, operation: "health" },
    { ...attempt, partner: "video" },
    { ...attempt, attempt: 1.5 },
    { ...attempt, attempt: -1 },
    { ...attempt, attempt: 1001 },
    { ...attempt, attempt: Number.NaN },
    { ...attempt, attempt: "1" },
    { ...attempt, endsProcessing: "yes" },
    { ...attempt, extra: 1 },
    { ...attempt, callId: 7 },
    null,
    [],
    "attempt",
  ];
  test.each(attempts.map((input, i) => [i, input]))("attempt %d", (_, input) => {
    expect(checkedOf(() => checkedAttempt(input as PartnerAttemptInput))).toEqual(
      zodOf(PartnerAttemptSchema, input),
    );
  });

  const results: unknown[] = [
    result,
    { ...result, result: "error", errorCode: "conflict", httpStatus: 409 },
    { ...result, target: undefined, userId: null, purpose: undefined, httpStatus: undefined },
    (({ errorCode: _, httpStatus: __, ...rest }) => rest)(result),
    { ...result, result: "Success" },
    { ...result, result: "a".repeat(33) },
    { ...result, errorCode: 3 },
    { ...result, httpStatus: 99 },
    { ...result, httpStatus: 600 },
    { ...result, latencyMs: -1 },
    { ...result, latencyMs: 86_400_001 },
    { ...result, latencyMs: 0.5 },
    { ...result, purpose: "journal" },
    { ...result, attempt: 1001 },
    { ...result, unknown: true },
  ];
  test.each(results.map((input, i) => [i, input]))("result %d", (_, input) => {
    expect(checkedOf(() => checkedResult(input as PartnerResultInput))).toEqual(
      zodOf(PartnerResultSchema, input),
    );
  });

  test("a context as the schema reads it, with absent fields null", () => {
    const context: AuditContext = { sourceApp: "api", instanceId: "api-1", requestId: "req_1" };
    expect(parseAuditContext(context)).toEqual({
      sourceApp: "api",
      instanceId: "api-1",
      clientIp: null,
      requestId: "req_1",
      actor: null,
      reason: null,
      traceId: null,
    });
    const traced = { ...context, traceId: "0af7651916cd43dd8448eb211c80319c", clientIp: "" };
    expect(parseAuditContext(traced)).toMatchObject(traced);
  });

  test.each([
    { sourceApp: "", instanceId: "api-1" },
    { sourceApp: "api", instanceId: "i".repeat(129) },
    { sourceApp: "api", instanceId: "api-1", clientIp: "1".repeat(65) },
    { sourceApp: "api", instanceId: "api-1", requestId: "" },
    { sourceApp: "api", instanceId: "api-1", reason: "" },
    { sourceApp: "api", instanceId: "api-1", traceId: "0AF7651916CD43DD8448EB211C80319C" },
  ] as AuditContext[])("a context the schema refuses is refused: %o", (context) => {
    expect(() => parseAuditContext(context)).toThrow(InvalidInputError);
  });
});
