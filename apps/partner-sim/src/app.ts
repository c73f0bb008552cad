import { matchPath } from "@propgate/partner-client/contract";
import { Hono } from "hono";
import { createSigningKey } from "./access-tokens.ts";
import { createAdminApp } from "./admin/admin-app.ts";
import { apiError } from "./api/answers.ts";
import { operationAt } from "./api/contract-routes.ts";
import { faceRoutes } from "./api/faces.ts";
import { healthRoutes } from "./api/health.ts";
import { injectedFaults } from "./api/injected-faults.ts";
import { keyRoutes } from "./api/keys.ts";
import { openDeviceRoutes } from "./api/open-device.ts";
import { openApiRoutes } from "./api/openapi.ts";
import { plateRoutes } from "./api/plates.ts";
import { subjectErasureRoutes } from "./api/subject-erasure.ts";
import { noteUrl } from "./api/subject-requests.ts";
import { STANDARD_SESSION_PATH, videoRoutes } from "./api/video.ts";
import type { OpenResult, RecordDraft, SimContext, SimEnv } from "./context.ts";
import { createPropgateEvents, type PropgateEvents } from "./events/propgate-events.ts";
import { createFaultController, type FaultController } from "./faults.ts";
import { createGuestKeyStore, type GuestKeyStore } from "./guest-keys.ts";
import { createIdempotencyStore } from "./idempotency.ts";
import {
  discoveryRoutes,
  JWKS_PATH,
  METADATA_PATH,
  OIDC_METADATA_PATH,
} from "./oauth/discovery.ts";
import { TOKEN_PATH, tokenRoutes } from "./oauth/token.ts";
import { type PartnerSimOptions, resolveSimOptions } from "./options.ts";
import { createRecorder, type RecordedOperation, type Recorder } from "./recorder.ts";
import { createSubjectDataStore, type SubjectData } from "./subject-data.ts";
import { clientCertRequired, type SimTlsMode } from "./tls.ts";
import { loadVideoClip, type VideoClip } from "./video/clip.ts";
import { createVideoSessions, mediaAddressFor, type VideoSessions } from "./video/sessions.ts";

/** W3C Trace Context's `traceparent`: version, trace id, parent span id, flags. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface CreatePartnerSimAppOptions extends PartnerSimOptions {
  /** The issuer (and base URL) the sim announces; `startPartnerSim` derives it from the port. */
  issuer: string;
  /** Called for requests the sim holds on purpose (latency, hang), e.g. to lift idle timeouts. */
  holdOpen?: (request: Request) => void;
}

export interface PartnerSimApp {
  /** Partner API and OAuth authorization server. */
  api: Hono<SimEnv>;
  /** Admin API: faults and recorded requests. */
  admin: Hono;
  issuer: string;
  audience: string;
  recorder: Recorder;
  faults: FaultController;
  video: VideoSessions;
  /** Plates, faces and erasures the sim holds, for tests. */
  data: SubjectData;
  /** Guest keys the sim issued, with their codes (tests look for a code where it must not be). */
  keys: Pick<GuestKeyStore, "keys">;
  /** The sim as a partner reporting events to Propgate's partner surface. */
  events: PropgateEvents;
  /** Releases every request held by latency or `hang` and closes every video session. */
  close(): Promise<void>;
}

function classify(method: string, path: string): RecordedOperation {
  if (path === TOKEN_PATH) return "token";
  if (path === METADATA_PATH || path === OIDC_METADATA_PATH) return "metadata";
  if (path === JWKS_PATH) return "jwks";
  if (matchPath(STANDARD_SESSION_PATH, path)) return "video.delete";
  const operation = operationAt(method, path);
  if (operation === "video.create_session") return "video.create";
  if (operation === "video.end_session") return "video.delete";
  return operation ?? "unknown";
}

/** Builds the sim's Hono apps (a fresh signing key, recorder and fault state) without listening. */
export async function createPartnerSimApp(
  options: CreatePartnerSimAppOptions,
): Promise<PartnerSimApp> {
  const resolved = resolveSimOptions(options);
  const issuer = options.issuer.replace(/\/+$/, "");
  const shutdown = new AbortController();
  const recorder = createRecorder();
  const faults = createFaultController({
    tokenLifetimeSeconds: resolved.tokenLifetimeSeconds,
    videoSessionTtlSeconds: resolved.videoSessionTtlSeconds,
    dialect: options.dialect,
  });
  // Loaded at startup when there are cameras, so a broken clip stops the sim right away.
  let clip: VideoClip | null =
    resolved.cameras.length > 0 ? loadVideoClip(options.videoClipPath) : null;
  const video = createVideoSessions({
    cameras: resolved.cameras,
    mediaAddress: mediaAddressFor(options.hostname ?? "127.0.0.1"),
    clip: () => {
      clip ??= loadVideoClip(options.videoClipPath);
      return clip;
    },
  });
  const ctx: SimContext = {
    name: resolved.name,
    tokens: { issuer, audience: resolved.audience, key: await createSigningKey() },
    clients: new Map(resolved.clients.map((client) => [client.clientId, client])),
    intercoms: new Set(resolved.intercoms),
    barriers: new Set(resolved.barriers),
    recorder,
    faults,
    idempotency: createIdempotencyStore<OpenResult>(),
    video,
    shutdown: shutdown.signal,
    data: createSubjectDataStore(),
    keys: createGuestKeyStore(),
    holdOpen: options.holdOpen ?? (() => {}),
  };

  const devices = new Set([...resolved.intercoms, ...resolved.barriers, ...resolved.cameras]);
  const events = createPropgateEvents({ knownDevice: (id) => devices.has(id) });
  if (options.propgate) events.connect(options.propgate);

  const tlsMode: SimTlsMode = options.tls && clientCertRequired(options.tls) ? "mutual" : "server";
  const api = new Hono<SimEnv>();
  api.use("*", async (c, next) => {
    const requestUrl = new URL(c.req.url);
    const draft: RecordDraft = {
      at: new Date().toISOString(),
      method: c.req.method,
      path: c.req.path,
      operation: classify(c.req.method, c.req.path),
      ...(requestUrl.protocol === "https:" ? { tls: tlsMode } : {}),
      sent: false,
    };
    noteUrl(draft, requestUrl);
    const traceparent = c.req.header("traceparent");
    if (traceparent && TRACEPARENT.test(traceparent)) draft.traceparent = traceparent;
    c.set("record", draft);
    c.set("responseMode", "normal");
    c.set("dialect", faults.get().dialect);
    await next();
    if (draft.sent) return;
    draft.sent = true;
    const { sent: _sent, ...received } = draft;
    recorder.add({ ...received, status: c.res.status });
  });
  api.use("/v1/*", injectedFaults(ctx));
  api.use("/streams/*", injectedFaults(ctx));
  api.route("/", discoveryRoutes(ctx));
  api.route("/", tokenRoutes(ctx));
  api.route("/", openDeviceRoutes(ctx));
  api.route("/", videoRoutes(ctx));
  api.route("/", plateRoutes(ctx));
  api.route("/", faceRoutes(ctx));
  api.route("/", keyRoutes(ctx));
  api.route("/", subjectErasureRoutes(ctx));
  api.route("/", healthRoutes(ctx));
  api.route("/", openApiRoutes());
  api.notFound((c) => apiError(c, 404, "not_found", `no route ${c.req.method} ${c.req.path}`));
  api.onError((error, c) => {
    console.error(`partner-sim ${resolved.name}: unhandled error`, error);
    return apiError(c, 500, "internal_error", "internal error");
  });

  return {
    api,
    admin: createAdminApp({ faults, recorder, video, data: ctx.data, events }),
    issuer,
    audience: resolved.audience,
    recorder,
    faults,
    video: { sessions: video.sessions, waitForSessionState: video.waitForSessionState },
    data: { plates: ctx.data.plates, faces: ctx.data.faces, erasures: ctx.data.erasures },
    keys: { keys: ctx.keys.keys },
    events,
    close: async () => {
      shutdown.abort();
      await video.closeAll();
    },
  };
}
