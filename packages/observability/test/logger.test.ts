import { describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { newId } from "@propgate/domain";
import { acceptOrCreateRequestId, createLogger, createMetrics } from "../src/index.ts";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe("logger", () => {
  test("writes one JSON line with app, level and time", () => {
    const { lines, stream } = capture();
    createLogger({ name: "api", destination: stream }).info({ requestId: "req_1" }, "request");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? "{}");
    expect(line).toMatchObject({ app: "api", level: "info", requestId: "req_1", msg: "request" });
    expect(typeof line.time).toBe("string");
  });

  test("redacts credentials wherever they sit", () => {
    const { lines, stream } = capture();
    const logger = createLogger({ name: "api", destination: stream });
    logger.info({
      authorization: "Bearer eyJhbGciOi.secret.part",
      headers: { authorization: "Basic c2VjcmV0" },
      client: { clientSecret: "very-secret", token: "tok-123", access_token: "at-456" },
      password: "hunter2",
      deep: { partner: { oauth: { token: "deep-tok-789", cookie: "sid=cookie-1" } } },
    });
    const text = lines.join("\n");
    for (const secret of [
      "eyJhbGciOi",
      "c2VjcmV0",
      "very-secret",
      "tok-123",
      "at-456",
      "hunter2",
      "deep-tok-789",
      "cookie-1",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("[redacted]");
  });

  test("logs errors by allow-list: type, code, message — no stack or attached data", () => {
    const { lines, stream } = capture();
    const error = Object.assign(new Error("partner down"), {
      code: "PARTNER_UNAVAILABLE",
      request: { headers: { authorization: "Bearer abc" } },
    });
    createLogger({ name: "api", destination: stream }).error({ err: error }, "failed");
    const line = JSON.parse(lines[0] ?? "{}");
    expect(line.err).toEqual({
      type: "Error",
      code: "PARTNER_UNAVAILABLE",
      message: "partner down",
    });
    expect(lines[0]).not.toContain("Bearer abc");
  });
});

describe("database errors", () => {
  test("are logged by code, table, constraint and statement; never their message or parameters", () => {
    const { lines, stream } = capture();
    const driver = Object.assign(new Error('duplicate key value violates unique constraint "p"'), {
      name: "PostgresError",
      severity: "ERROR",
      code: "23505",
      table_name: "partner_subjects",
      constraint_name: "partner_subjects_pkey",
      detail: "Key (subject)=(c3ViamVjdA) already exists.",
    });
    const wrapped = Object.assign(
      new Error(
        'Failed query: insert into "partner_subjects" ("user_id", "subject") values ($1, $2)\nparams: user-secret-7,c3ViamVjdA',
      ),
      { name: "DrizzleQueryError", cause: driver, params: ["user-secret-7", "c3ViamVjdA"] },
    );
    const logger = createLogger({ name: "api", destination: stream });
    logger.error({ err: wrapped }, "procedure failed");
    logger.error({ err: driver }, "raw driver error");
    const [first, second] = lines.map((line) => JSON.parse(line));
    expect(first.err).toEqual({
      type: "DrizzleQueryError",
      database: true,
      code: "23505",
      table: "partner_subjects",
      constraint: "partner_subjects_pkey",
      statement: "insert partner_subjects",
    });
    expect(second.err).toEqual({
      type: "PostgresError",
      database: true,
      code: "23505",
      table: "partner_subjects",
      constraint: "partner_subjects_pkey",
    });
    const text = lines.join("\n");
    expect(text).not.toContain("user-secret-7");
    expect(text).not.toContain("c3ViamVjdA");
  });
});

describe("ids", () => {
  test("prefixed ids are random and well-formed", () => {
    const a = newId("evt");
    expect(a).toMatch(/^evt_[0-9a-z]{20}$/);
    expect(newId("evt")).not.toBe(a);
  });
  test("an incoming request id is kept only when sane", () => {
    expect(acceptOrCreateRequestId("abc-12345")).toBe("abc-12345");
    expect(acceptOrCreateRequestId("<script>alert(1)</script>")).toMatch(/^req_/);
    expect(acceptOrCreateRequestId(null)).toMatch(/^req_/);
  });
});

describe("metrics", () => {
  test("each instance has its own registry with the partner metrics", async () => {
    const one = createMetrics({ app: "api" });
    const two = createMetrics({ app: "api" });
    one.partnerRequests.inc({
      partner: "intercom",
      operation: "intercom.open",
      outcome: "success",
    });
    const text = await one.registry.metrics();
    expect(text).toContain(
      'propgate_partner_requests_total{partner="intercom",operation="intercom.open",outcome="success",app="api"} 1',
    );
    expect(await two.registry.metrics()).not.toContain('outcome="success"');
  });
});

describe("free-text scrubbing", () => {
  test("JWTs, bearer credentials and plates are scrubbed from messages and fields", () => {
    const { lines, stream } = capture();
    const logger = createLogger({ name: "api", destination: stream });
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlX3BhcnQ";
    logger.warn(
      { detail: `partner said: token ${jwt} rejected`, list: ["А 123 ВС 77", "x"] },
      `car A123BC777 and Bearer abcdefghijkl`,
    );
    logger.info("taxi ав12377 left");
    const text = lines.join("\n");
    for (const secret of [jwt, "А 123 ВС 77", "A123BC777", "abcdefghijkl", "ав12377"])
      expect(text).not.toContain(secret);
    expect(text).toContain("[jwt]");
    expect(text).toContain("[plate]");
    expect(text).toContain("Bearer [redacted]");
  });

  test("ordinary ids and numbers are left alone", () => {
    const { lines, stream } = capture();
    createLogger({ name: "api", destination: stream }).info(
      { requestId: "req_abc123", deviceId: "door-a1", status: 200 },
      "request",
    );
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      requestId: "req_abc123",
      deviceId: "door-a1",
      status: 200,
    });
  });
});
