import { randomBytes, randomUUID } from "node:crypto";
import type { Partner } from "@propgate/domain";
import {
  auditErrorCode,
  type CallHooks,
  discoverAuthorizationServer,
  facesOperations,
  HealthResponse,
  OPERATIONS,
  type OperationName,
  PARTNER_OPERATIONS,
  PARTNER_SCOPES,
  type PartnerClient,
  PartnerRejectedError,
  type PartnerScope,
  parseRetryAfter,
  platesOperations,
  videoOperations,
} from "@propgate/partner-client";
import { checkErasure } from "./erasure-checks.ts";
import { checkKeys } from "./key-checks.ts";
import { discoveryRow, tokenRows } from "./oauth-checks.ts";
import type { Exchange } from "./observed-fetch.ts";
import type { CheckRow } from "./report.ts";
import { TEST_FACE_JPEG_BASE64 } from "./test-image.ts";
import {
  attemptLog,
  describeFailure,
  type Flag,
  fail,
  pass,
  skip,
  Verification,
  type VerifyInput,
} from "./verification.ts";

/** The scope of video sessions: needed only of a partner that serves cameras. */
const CAMERA_SCOPE = OPERATIONS["video.create_session"].scope;

/**
 * The operations a partner serves: its own, and those any partner serves (`partner: null` in
 * the contract: health, erasure, video for its cameras).
 */
function servedOperations(partner: Partner): OperationName[] {
  return PARTNER_OPERATIONS.filter((operation) => {
    const served = OPERATIONS[operation].partner;
    return served === null || served === partner;
  });
}

/** A plate no car has: numbers run 001-999, so `000` is never issued; random letters. */
function syntheticPlate(): string {
  const letters = "ABEKMHOPCTYX";
  const pick = () => letters[(randomBytes(1)[0] ?? 0) % letters.length] ?? "X";
  return `${pick()}000${pick()}${pick()}799`;
}

/** Runs every check against the partner, in order; resolves to the rows. */
export async function runPartnerChecks(input: VerifyInput): Promise<CheckRow[]> {
  const run = new Verification(input);
  const { partner, targets } = input;
  const served = servedOperations(partner);
  const scopes = PARTNER_SCOPES.filter((scope) =>
    served.some((operation) => OPERATIONS[operation].scope === scope),
  );
  const optional = new Map<PartnerScope, string>();
  if (targets.camera === null)
    optional.set(CAMERA_SCOPE, "needed only if this partner serves cameras (--camera <id>)");

  // With a token URL the api discovers nothing; the issuer's metadata is still the partner's to
  // serve, so it is fetched here for the discovery row to judge (the exchanges keep what came).
  if (input.settings.issuer && input.settings.tokenUrl) {
    await discoverAuthorizationServer(input.settings.issuer, {
      fetch: run.oauth.fetch,
      allowInsecureLoopback: input.allowInsecureLoopback,
      requestTimeoutMs: input.settings.timeoutMs,
    }).catch(() => undefined);
  }
  const tokens = await tokenRows({
    tokens: run.tokens,
    exchanges: run.oauth.exchanges,
    scopes,
    optional,
  });
  run.granted = tokens.granted;
  run.rows.push(discoveryRow(input.settings, run.oauth.exchanges), ...tokens.rows);

  await checkHealth(run);
  await checkWrongScope(run);
  await checkOpen(run);
  await checkErrorBody(run);
  if (served.includes("plates.list")) await checkPlates(run);
  if (served.includes("faces.list")) await checkFaces(run);
  if (served.includes("keys.create")) await checkKeys(run);
  await checkVideo(run);
  await checkErasure(run);
  run.rows.push(
    retryAfterRow({ "authorization server": run.oauth.exchanges, API: run.answers.exchanges }),
  );
  return run.rows;
}

async function checkHealth(run: Verification) {
  await run.check("health", { operation: "health" }, async () => {
    const log = attemptLog();
    const answer = await run.client.call({
      operation: "health",
      pathParam: "",
      response: HealthResponse,
      hooks: log.hooks,
    });
    return pass("health", `HTTP ${log.last()} {status: "${answer.status}"}`);
  });
}

/**
 * A token of another scope must be refused (403, or 401): on `GET /v1/health`, and with
 * `--device` on the open endpoint with a health.read token. Accepted: the partner is not
 * checking scopes, and any of its clients can do anything.
 */
async function checkWrongScope(run: Verification) {
  const check = "wrong-scope";
  const openOperation = `${run.input.partner}.open` as const;
  const healthScope = OPERATIONS.health.scope;
  const otherScope = [OPERATIONS[openOperation].scope, ...run.granted].find(
    (scope) => scope !== healthScope && run.granted.has(scope),
  );
  const probes: Array<{
    what: string;
    scope: PartnerScope;
    send: (client: PartnerClient, hooks: CallHooks) => Promise<unknown>;
  }> = [];
  if (otherScope) {
    probes.push({
      what: `health with a token for ${otherScope}`,
      scope: otherScope,
      send: (client, hooks) =>
        client.call({ operation: "health", pathParam: "", response: HealthResponse, hooks }),
    });
  }
  const device = run.input.targets.device;
  if (device !== null && run.granted.has(healthScope)) {
    probes.push({
      what: `${openOperation} with a token for ${healthScope}`,
      scope: healthScope,
      send: (client, hooks) =>
        run.open(client)({
          partnerDeviceId: device,
          subject: run.subject,
          idempotencyKey: `propgate-verify-${randomUUID()}`,
          hooks,
        }),
    });
  }
  if (probes.length === 0) {
    run.rows.push(skip(check, "needs tokens of two scopes (see the token rows)"));
    return;
  }
  const refused: string[] = [];
  for (const probe of probes) {
    const client = run.clientWith({
      getToken: (_scopes, options) => run.tokens.getToken([probe.scope], options),
    });
    const log = attemptLog();
    try {
      await probe.send(client, log.hooks);
      run.rows.push(fail(check, `wrong scope accepted: ${probe.what} answered HTTP ${log.last()}`));
      return;
    } catch (error) {
      const status = log.last();
      if (status !== 401 && status !== 403) {
        run.rows.push(
          fail(check, `${probe.what}: expected 403 or 401, got ${describeFailure(error)}`),
        );
        return;
      }
      refused.push(`${probe.what} → ${status}`);
    }
  }
  run.rows.push(pass(check, `refused: ${refused.join("; ")}`));
}

/** Opens `--device` with an Idempotency-Key, then repeats it: the repeat gets the first answer. */
async function checkOpen(run: Verification) {
  const operation = `${run.input.partner}.open` as const;
  const device = run.input.targets.device;
  const key = `propgate-verify-${randomUUID()}`;
  const opened: { eventId?: string } = {};
  await run.check(operation, { operation, flags: [["--device", device]] }, async () => {
    const log = attemptLog();
    const answer = await run.open(run.client)({
      partnerDeviceId: device ?? "",
      subject: run.subject,
      idempotencyKey: key,
      hooks: log.hooks,
    });
    opened.eventId = answer.eventId;
    return pass(
      operation,
      `HTTP ${log.last()}: opened (eventId, openedAt), with an Idempotency-Key`,
    );
  });
  const check = "idempotency";
  if (opened.eventId === undefined) {
    run.rows.push(skip(check, `nothing to repeat (see ${operation})`));
    return;
  }
  await run.check(check, { operation }, async () => {
    const again = await run.open(run.client)({
      partnerDeviceId: device ?? "",
      subject: run.subject,
      idempotencyKey: key,
    });
    return again.eventId === opened.eventId
      ? pass(check, "the repeat with the same Idempotency-Key got the first answer")
      : fail(check, "the repeat with the same Idempotency-Key got another eventId: opened twice");
  });
}

/** An unknown device id: 404 with the contract's error body `{ error, message }`. */
async function checkErrorBody(run: Verification) {
  const check = "error-body";
  const operation = `${run.input.partner}.open` as const;
  await run.check(check, { operation }, async () => {
    const unknown = `propgate-verify-unknown-${randomBytes(6).toString("hex")}`;
    try {
      await run.open(run.client)({
        partnerDeviceId: unknown,
        subject: run.subject,
        idempotencyKey: `propgate-verify-${randomUUID()}`,
      });
    } catch (error) {
      if (!(error instanceof PartnerRejectedError) || error.status !== 404)
        return fail(check, `an unknown device id: expected 404, got ${describeFailure(error)}`);
      if (error.partnerError === null)
        return fail(check, "HTTP 404 without the error body {error, message}");
      const code = auditErrorCode(404, error.partnerError);
      return pass(
        check,
        code === "http_404"
          ? "HTTP 404 {error, message}; error is not a plain snake_case word (kept as http_404)"
          : `HTTP 404 {error: "${code}"} for an unknown device id`,
      );
    }
    return fail(check, "an unknown device id was opened (expected 404)");
  });
}

/** List, add and remove a synthetic plate of the synthetic subject at `--site`. */
async function checkPlates(run: Verification) {
  const site = run.input.targets.site;
  const plates = platesOperations(run.client);
  const flags: Flag[] = [["--site", site]];
  const siteId = site ?? "";
  await run.check("plates.list", { operation: "plates.list", flags }, async () => {
    const log = attemptLog();
    const list = await plates.list({ siteId, subject: run.subject, hooks: log.hooks });
    return pass("plates.list", `HTTP ${log.last()}: ${list.plates.length} plate(s)`);
  });
  const added: { id?: string } = {};
  await run.check("plates.add", { operation: "plates.add", flags }, async () => {
    const log = attemptLog();
    const plate = syntheticPlate();
    const record = await plates.add({ siteId, subject: run.subject, plate, hooks: log.hooks });
    added.id = record.id;
    return record.plate === plate
      ? pass("plates.add", `HTTP ${log.last()}: a plate record {id, plate, createdAt}`)
      : fail("plates.add", "the record names another plate than the one added");
  });
  const plateId = added.id;
  if (plateId === undefined) {
    run.rows.push(skip("plates.remove", "nothing added to remove (see plates.add)"));
    return;
  }
  await run.check("plates.remove", { operation: "plates.remove", flags }, async () => {
    const log = attemptLog();
    await plates.remove({ siteId, plateId, subject: run.subject, hooks: log.hooks });
    return pass("plates.remove", `HTTP ${log.last()}: removed`);
  });
}

/** List faces; enrol the generated test image and remove it (a refusal of the image skips). */
async function checkFaces(run: Verification) {
  const faces = facesOperations(run.client);
  await run.check("faces.list", { operation: "faces.list" }, async () => {
    const log = attemptLog();
    const list = await faces.list({ subject: run.subject, hooks: log.hooks });
    return pass("faces.list", `HTTP ${log.last()}: ${list.faces.length} face(s)`);
  });
  const enrolled: { faceId?: string } = {};
  await run.check("faces.enroll", { operation: "faces.enroll" }, async () => {
    const log = attemptLog();
    try {
      const record = await faces.enroll({
        subject: run.subject,
        imageBase64: TEST_FACE_JPEG_BASE64,
        hooks: log.hooks,
      });
      enrolled.faceId = record.faceId;
      return pass("faces.enroll", `HTTP ${log.last()}: {faceId, createdAt} for a generated JPEG`);
    } catch (error) {
      if (error instanceof PartnerRejectedError && [400, 413, 415, 422].includes(error.status))
        return skip(
          "faces.enroll",
          `the generated 8×8 grey JPEG was ${describeFailure(error)}; enrol a real face by hand to check`,
        );
      throw error;
    }
  });
  const faceId = enrolled.faceId;
  if (faceId === undefined) {
    run.rows.push(skip("faces.remove", "nothing enrolled to remove (see faces.enroll)"));
    return;
  }
  await run.check("faces.remove", { operation: "faces.remove" }, async () => {
    const log = attemptLog();
    await faces.remove({ faceId, subject: run.subject, hooks: log.hooks });
    return pass("faces.remove", `HTTP ${log.last()}: removed`);
  });
}

/**
 * A WHEP session at `--camera` from a real receive-only offer, decoded by the api's own reader
 * (Location anywhere on the partner's origin, optional X-Session-Expires-At, Link ICE servers),
 * then ended with `DELETE` on its Location: 200 or 204.
 */
async function checkVideo(run: Verification) {
  const camera = run.input.targets.camera;
  const video = videoOperations(run.client);
  const flags: Flag[] = [["--camera", camera]];
  const made: { session?: { sessionPath: string; partnerSessionId: string } } = {};
  await run.check(
    "video.create_session",
    { operation: "video.create_session", flags },
    async () => {
      const { makeReceiveOnlyOffer } = await import("./webrtc-offer.ts");
      let offerSdp: string;
      try {
        offerSdp = await makeReceiveOnlyOffer(run.input.settings.timeoutMs);
      } catch (error) {
        const name = error instanceof Error ? error.name : "unknown error";
        return fail("video.create_session", `could not make a WebRTC offer (werift: ${name})`);
      }
      const log = attemptLog();
      const answer = await video.createSession({
        cameraId: camera ?? "",
        offerSdp,
        hooks: log.hooks,
      });
      made.session = { sessionPath: answer.sessionPath, partnerSessionId: answer.partnerSessionId };
      const expiry = answer.expiresAt
        ? `X-Session-Expires-At ${answer.expiresAt}`
        : "no X-Session-Expires-At (the api ends it after VIDEO_SESSION_MAX_SECONDS)";
      return pass(
        "video.create_session",
        `HTTP ${log.last()}: SDP answer, Location on the partner's origin, ${answer.iceServers.length} ICE server(s), ${expiry}`,
      );
    },
  );
  const session = made.session;
  if (session === undefined) {
    run.rows.push(skip("video.end_session", "no session to end (see video.create_session)"));
    return;
  }
  await run.check("video.end_session", { operation: "video.end_session" }, async () => {
    const log = attemptLog();
    await video.endSession({ ...session, hooks: log.hooks });
    const status = log.last();
    return status === 200 || status === 204
      ? pass("video.end_session", `DELETE on the Location → HTTP ${status}`)
      : fail(
          "video.end_session",
          `DELETE on the Location answered HTTP ${status} (expected 200 or 204)`,
        );
  });
}

/**
 * Every 429 or 503 answered during the run carried a usable `Retry-After`. The check provokes
 * none: loading a partner until it refuses is not an onboarding check.
 */
function retryAfterRow(sources: Record<string, readonly Exchange[]>): CheckRow {
  const check = "retry-after";
  const limited = Object.entries(sources).flatMap(([source, exchanges]) =>
    exchanges
      .filter((exchange) => exchange.status === 429 || exchange.status === 503)
      .map((exchange) => ({ source, exchange })),
  );
  if (limited.length === 0)
    return skip(check, "no 429 or 503 was answered during the run (none is provoked)");
  const without = limited.find(({ exchange }) => parseRetryAfter(exchange.retryAfter) === null);
  if (without) {
    const { source, exchange } = without;
    return fail(
      check,
      `HTTP ${exchange.status} from the ${source} (${exchange.method} ${exchange.url.pathname}) without a usable Retry-After`,
    );
  }
  const seconds = limited.map(({ exchange }) =>
    Math.ceil((parseRetryAfter(exchange.retryAfter) ?? 0) / 1000),
  );
  return pass(
    check,
    `${limited.length} answer(s) of 429/503, each with Retry-After (${seconds.join(", ")} s)`,
  );
}
