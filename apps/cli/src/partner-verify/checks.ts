import { randomBytes, randomUUID } from "node:crypto";
import type { PartnerSettings } from "@propgate/config";
import { ERASURE_CATEGORIES, ERASURE_PARTNER, type Partner } from "@propgate/domain";
import {
  auditErrorCode,
  barrierOperations,
  type CallHooks,
  createPartnerClient,
  createPartnerFetch,
  createPartnerTokenSource,
  discoverAuthorizationServer,
  facesOperations,
  HealthResponse,
  intercomOperations,
  OPERATIONS,
  type OpenDeviceInput,
  type OperationName,
  PARTNER_OPERATIONS,
  PARTNER_SCOPES,
  type PartnerClient,
  PartnerProtocolError,
  PartnerRejectedError,
  type PartnerScope,
  PartnerUnavailableError,
  parseRetryAfter,
  platesOperations,
  subjectFor,
  subjectOperations,
  type TokenSource,
  videoOperations,
} from "@propgate/partner-client";
import { discoveryRow, tokenRows } from "./oauth-checks.ts";
import { type Exchange, observedFetch } from "./observed-fetch.ts";
import type { CheckRow } from "./report.ts";
import { TEST_FACE_JPEG_BASE64 } from "./test-image.ts";

/** The partner's test ids the checks act on; null skips the checks that need one. */
export interface VerifyTargets {
  device: string | null;
  camera: string | null;
  site: string | null;
}

export interface VerifyInput {
  partner: Partner;
  settings: PartnerSettings;
  allowInsecureLoopback: boolean;
  targets: VerifyTargets;
}

const pass = (check: string, detail: string): CheckRow => ({ check, status: "pass", detail });
const fail = (check: string, detail: string): CheckRow => ({ check, status: "fail", detail });
const skip = (check: string, detail: string): CheckRow => ({ check, status: "skip", detail });

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

/** One word for what went wrong, in our terms: never the partner's body text or a token. */
function describeFailure(error: unknown): string {
  if (error instanceof PartnerRejectedError)
    return `refused: HTTP ${error.status} ${auditErrorCode(error.status, error.partnerError)}`;
  if (error instanceof PartnerProtocolError) {
    const fields = error.fields.length > 0 ? ` (fields: ${error.fields.join(", ")})` : "";
    return `${error.message}${fields}`;
  }
  if (error instanceof PartnerUnavailableError) return error.message;
  return `failed (${error instanceof Error ? error.name : "unknown error"})`;
}

/** Hooks that keep each attempt's HTTP status in memory: no audit row, no database. */
function attemptLog() {
  const statuses: Array<number | null> = [];
  const hooks: CallHooks = {
    beforeAttempt: async () => {},
    afterAttempt: async (outcome) => {
      statuses.push(outcome.httpStatus);
    },
  };
  return { hooks, statuses, last: () => statuses.at(-1) ?? null };
}

/** A plate no car has: numbers run 001-999, so `000` is never issued; random letters. */
function syntheticPlate(): string {
  const letters = "ABEKMHOPCTYX";
  const pick = () => letters[(randomBytes(1)[0] ?? 0) % letters.length] ?? "X";
  return `${pick()}000${pick()}${pick()}799`;
}

class Verification {
  readonly rows: CheckRow[] = [];
  readonly oauth: ReturnType<typeof observedFetch>;
  readonly answers: ReturnType<typeof observedFetch>;
  readonly tokens: TokenSource;
  readonly client: PartnerClient;
  /** A subject that stands for no resident: the HMAC of a fresh random id. */
  readonly subject: string;
  granted = new Set<PartnerScope>();

  constructor(readonly input: VerifyInput) {
    const { settings } = input;
    const transport = createPartnerFetch(settings);
    this.oauth = observedFetch(transport, { readFields: true });
    this.answers = observedFetch(transport, { readFields: false });
    this.tokens = createPartnerTokenSource(settings, {
      fetch: this.oauth.fetch,
      allowInsecureLoopback: input.allowInsecureLoopback,
      requestTimeoutMs: settings.timeoutMs,
      // Each scope asked once: no waiting out a back-off between the rows.
      backoffInitialMs: 0,
      backoffMaxMs: 0,
    });
    this.client = this.clientWith(this.tokens);
    this.subject = subjectFor(`propgate-verify:${randomUUID()}`, settings.subjectKey);
  }

  /** The api's partner client, over this run's fetch, with these tokens. */
  clientWith(tokens: TokenSource): PartnerClient {
    const { settings } = this.input;
    return createPartnerClient({
      name: settings.name,
      baseUrl: settings.baseUrl,
      tokenSource: tokens,
      fetch: this.answers.fetch,
      timeoutMs: settings.timeoutMs,
    });
  }

  /** Runs one check unless its scope has no token or a flag it needs was not given. */
  async check(
    name: string,
    needs: { operation: OperationName; flag?: [string, string | null] },
    run: () => Promise<CheckRow>,
  ): Promise<void> {
    const scope = OPERATIONS[needs.operation].scope;
    if (needs.flag && needs.flag[1] === null) {
      this.rows.push(skip(name, `give ${needs.flag[0]} <id> to check ${needs.operation}`));
      return;
    }
    if (!this.granted.has(scope)) {
      this.rows.push(skip(name, `no ${scope} token (see token:${scope})`));
      return;
    }
    try {
      this.rows.push(await run());
    } catch (error) {
      this.rows.push(fail(name, describeFailure(error)));
    }
  }

  open(client: PartnerClient): (input: OpenDeviceInput) => Promise<{ eventId: string }> {
    return this.input.partner === "intercom"
      ? intercomOperations(client).openDoor
      : barrierOperations(client).openGate;
  }
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
  await run.check(operation, { operation, flag: ["--device", device] }, async () => {
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
  const flag: [string, string | null] = ["--site", site];
  const siteId = site ?? "";
  await run.check("plates.list", { operation: "plates.list", flag }, async () => {
    const log = attemptLog();
    const list = await plates.list({ siteId, subject: run.subject, hooks: log.hooks });
    return pass("plates.list", `HTTP ${log.last()}: ${list.plates.length} plate(s)`);
  });
  const added: { id?: string } = {};
  await run.check("plates.add", { operation: "plates.add", flag }, async () => {
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
  await run.check("plates.remove", { operation: "plates.remove", flag }, async () => {
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
  const flag: [string, string | null] = ["--camera", camera];
  const made: { session?: { sessionPath: string; partnerSessionId: string } } = {};
  await run.check("video.create_session", { operation: "video.create_session", flag }, async () => {
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
  });
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

/** Erasure of what the partner holds for the synthetic subject: 200, 202 or 204. */
async function checkErasure(run: Verification) {
  const partner = run.input.partner;
  const categories = ERASURE_CATEGORIES.filter((category) => ERASURE_PARTNER[category] === partner);
  await run.check("subjects.erase", { operation: "subjects.erase" }, async () => {
    const log = attemptLog();
    const answer = await subjectOperations(run.client).erase({
      subject: run.subject,
      categories,
      hooks: log.hooks,
    });
    const what = categories.join(",");
    if (answer.state === "accepted")
      return pass("subjects.erase", `HTTP ${log.last()}: ${what} accepted (erased later)`);
    const counts = answer.erased
      ? ` (${Object.entries(answer.erased)
          .map(([category, count]) => `${category} ${count}`)
          .join(", ")})`
      : "";
    return pass("subjects.erase", `HTTP ${log.last()}: ${what} erased${counts}`);
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
