import { join } from "node:path";
import { loadAdminEnv, type RunningAdmin, serveAdmin } from "@propgate/admin";
import type { PartnerTuning } from "@propgate/api";
import {
  type DatabaseHandle,
  openDatabase,
  upsertDevices,
  upsertUnits,
} from "@propgate/consent-audit";
import { loadProbeEnv, type RunningProbe, startHealthProbe } from "@propgate/health-probe";
import type { LogDestination } from "@propgate/observability";
import { type PartnerSim, startPartnerSim } from "@propgate/partner-sim";
import { type Instance, loadApiEnv, startInstance } from "@propgate/server";
import {
  ensureAdminClientSecret,
  ensureAdminSessionSecret,
  ensureAuditSigningKey,
  loadOrCreateDevCredentials,
} from "./credentials.ts";
import { type DevIssuer, startDevIssuer } from "./issuer.ts";
import { type DevPartnerSurface, devPartnerSurface } from "./partner-events.ts";
import { SEED_DEVICES, SEED_UNITS, SIM_BARRIERS, SIM_CAMERAS, SIM_INTERCOMS } from "./seed.ts";
import { mountVideoPage } from "./video-page.ts";

export interface EmbeddedStackOptions {
  /** Where PGlite and the dev credentials live; null keeps everything in memory. */
  dataDir: string | null;
  apiPort?: number;
  /** Use this database instead of PGlite (tests pass PostgreSQL when DATABASE_URL is set). */
  database?: DatabaseHandle;
  logDestination?: LogDestination;
  logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  partnerTimeoutMs?: number;
  tuning?: PartnerTuning;
  /** Extra settings layered over the generated ones (e.g. a second instance's INSTANCE_ID). */
  env?: Record<string, string>;
  /** The admin app's port (0, the default, picks a free one; `bun run start` uses 8790). */
  adminPort?: number;
  /** Extra settings of the admin app (e.g. ADMIN_SESSION_IDLE_SECONDS). */
  adminEnv?: Record<string, string>;
  /**
   * The partner surface on loopback with the sims as its clients, and the seed's flats mapped,
   * so the sims' rings and entries reach residents (`bun run start` and the demo turn it on).
   */
  partnerEvents?: boolean;
  /**
   * The health probe over both sims every `intervalMs`, writing partner health to the stack's
   * database (no VPN collector: no WireGuard here), so the admin app's partner health is live
   * from the first start (`bun run start` turns it on; tests drive their own probe rounds).
   */
  healthProbe?: { intervalMs: number };
}

export interface EmbeddedStack extends Omit<Instance, "stop" | "drain"> {
  database: DatabaseHandle;
  issuer: DevIssuer;
  sims: { intercom: PartnerSim; barrier: PartnerSim };
  /** The admin app, signing in at the dev issuer (client `ADMIN_CLIENT_ID`). */
  admin: RunningAdmin;
  /** The settings the api was started with, as env variables (secrets included: dev only). */
  env: Record<string, string>;
  /** The health probe, when `healthProbe` asked for it. */
  probe: RunningProbe | null;
  stop(): Promise<void>;
}

const RESIDENT_AUDIENCE = "propgate-api";
export const ADMIN_CLIENT_ID = "propgate-admin";

/**
 * The whole stack on embedded defaults: two partner simulators (intercom, barrier), a dev
 * identity issuer, PGlite, one api instance and the admin app (signing in at the dev issuer) —
 * all on loopback. The api and the admin app are configured through the same env parsing as
 * production.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const credentials = await loadOrCreateDevCredentials(options.dataDir);
  const intercom = await startPartnerSim({
    name: "intercom",
    clients: [
      {
        clientId: credentials.intercom.clientId,
        clientSecret: credentials.intercom.clientSecret,
        scopes: [
          "intercom.open",
          "faces.manage",
          "keys.manage",
          "video.view",
          "subjects.erase",
          "health.read",
        ],
      },
    ],
    intercoms: SIM_INTERCOMS,
    cameras: SIM_CAMERAS,
  });
  const barrier = await startPartnerSim({
    name: "barrier",
    clients: [
      {
        clientId: credentials.barrier.clientId,
        clientSecret: credentials.barrier.clientSecret,
        scopes: ["barrier.open", "plates.manage", "subjects.erase", "health.read"],
      },
    ],
    barriers: SIM_BARRIERS,
  });
  const issuer = await startDevIssuer({
    privateJwk: credentials.issuerKey,
    audience: RESIDENT_AUDIENCE,
  });

  const auditKey = ensureAuditSigningKey(options.dataDir);
  const env: Record<string, string> = {
    PROPGATE_ENV: "development",
    AUDIT_SIGNING_KEY_FILE: auditKey.file,
    HOST: "127.0.0.1",
    PORT: String(options.apiPort ?? 0),
    LOG_LEVEL: options.logLevel ?? "info",
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: RESIDENT_AUDIENCE,
    AUTH_JWKS_URL: issuer.jwksUrl.href,
  };
  for (const [name, sim] of [
    ["INTERCOM", intercom],
    ["BARRIER", barrier],
  ] as const) {
    const own = name === "INTERCOM" ? credentials.intercom : credentials.barrier;
    env[`PARTNER_${name}_BASE_URL`] = sim.url;
    env[`PARTNER_${name}_ISSUER`] = sim.issuer;
    env[`PARTNER_${name}_CLIENT_ID`] = own.clientId;
    env[`PARTNER_${name}_CLIENT_SECRET`] = own.clientSecret;
    env[`PARTNER_${name}_SUBJECT_KEY`] = own.subjectKey;
    if (options.partnerTimeoutMs)
      env[`PARTNER_${name}_TIMEOUT_MS`] = String(options.partnerTimeoutMs);
  }
  const surface: DevPartnerSurface | null = options.partnerEvents
    ? await devPartnerSurface()
    : null;
  Object.assign(env, surface?.env, options.env);
  const apiEnv = loadApiEnv(env);

  const database =
    options.database ??
    (await openDatabase({
      dataDir: options.dataDir ? join(options.dataDir, "pglite") : undefined,
    }));
  const instance = await startInstance(apiEnv, {
    database,
    migrate: true,
    logDestination: options.logDestination,
    tuning: options.tuning,
    mount: mountVideoPage,
  });
  await upsertDevices(database.db, SEED_DEVICES, {
    sourceApp: "dev-stack",
    instanceId: instance.deps.settings.instanceId,
    actor: "seed",
  });
  if (surface) {
    if (!instance.partnerSurface) throw new Error("the api started without its partner surface");
    await upsertUnits(database.db, SEED_UNITS, {
      sourceApp: "dev-stack",
      instanceId: instance.deps.settings.instanceId,
      actor: "seed",
      reason: "the dev stack's flats",
    });
    surface.connect({ intercom, barrier }, instance.partnerSurface.url);
  }

  // The admin app, parsed like production's; without ADMIN_URL its own loopback URL is used. Its
  // sessions live in the stack's database (one PGlite is one process's).
  const adminSecret = ensureAdminClientSecret(options.dataDir);
  const sessionSecret = ensureAdminSessionSecret(options.dataDir);
  const admin = await serveAdmin(
    loadAdminEnv({
      PROPGATE_ENV: "development",
      HOST: "127.0.0.1",
      PORT: String(options.adminPort ?? 0),
      API_URL: instance.api.url,
      ADMIN_OIDC_ISSUER: issuer.issuer,
      ADMIN_OIDC_CLIENT_ID: ADMIN_CLIENT_ID,
      ADMIN_OIDC_CLIENT_SECRET_FILE: adminSecret.file,
      ADMIN_SESSION_SECRET_FILE: sessionSecret.file,
      ...options.adminEnv,
    }),
    { database },
  );
  issuer.registerClient({
    clientId: ADMIN_CLIENT_ID,
    clientSecret: adminSecret.secret,
    redirectUris: [admin.redirectUri],
    postLogoutRedirectUris: [admin.postLogoutRedirectUri],
  });

  const probe = options.healthProbe
    ? await startHealthProbe(
        loadProbeEnv({
          PROPGATE_ENV: "development",
          HOST: "127.0.0.1",
          PORT: "0",
          // Required by the probe's settings, unused: it writes to the stack's own database.
          DATA_DIR: options.dataDir ?? "/nonexistent-not-used",
          LOG_LEVEL: options.logLevel ?? "info",
          PROBE_INTERVAL_MS: String(options.healthProbe.intervalMs),
          ...Object.fromEntries(
            Object.entries(env).filter(([name]) => name.startsWith("PARTNER_")),
          ),
        }),
        { database, vpn: false, logDestination: options.logDestination },
      )
    : null;

  return {
    api: instance.api,
    partnerSurface: instance.partnerSurface,
    metrics: instance.metrics,
    deps: instance.deps,
    background: instance.background,
    database,
    issuer,
    sims: { intercom, barrier },
    admin,
    env,
    probe,
    async stop() {
      await probe?.stop();
      await admin.stop();
      await instance.stop();
      await Promise.all([intercom.stop(), barrier.stop(), issuer.stop()]);
      if (!options.database) await database.close();
      auditKey.cleanup();
      adminSecret.cleanup();
      sessionSecret.cleanup();
      surface?.cleanup();
    },
  };
}
