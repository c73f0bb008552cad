import { isLoopbackHost } from "@propgate/config";
import {
  type DatabaseHandle,
  migrateDatabase,
  openConfiguredDatabase,
} from "@propgate/consent-audit";
import { type AdminApp, createAdminApp } from "./app.ts";
import type { AdminEnv } from "./env.ts";

export interface RunningAdmin {
  /** The public URL (ADMIN_URL, else the listener's own). */
  url: string;
  /** Where this process listens (behind a load balancer: one of the replicas). */
  listenUrl: string;
  /** The redirect URI to register at the identity provider. */
  redirectUri: string;
  /** Where the provider sends the browser after logout. */
  postLogoutRedirectUri: string;
  stop(): Promise<void>;
}

/**
 * Starts the admin app on HOST:PORT (port 0 picks a free one). Without ADMIN_URL (development
 * only) the listener's own URL is the public one. Sessions live in `database` when given (the
 * embedded stack shares its own), else in DATABASE_URL's PostgreSQL, else (development) in
 * PGlite under DATA_DIR or in memory, migrated here — PostgreSQL is migrated by `migrate`.
 */
export async function serveAdmin(
  env: AdminEnv,
  options: {
    fetch?: typeof fetch;
    warn?: (line: string) => void;
    database?: DatabaseHandle;
  } = {},
): Promise<RunningAdmin> {
  const warn = options.warn ?? ((line: string) => console.warn(line));
  const database =
    options.database ?? (await openConfiguredDatabase(env, env.DATA_DIR ?? undefined));
  const closeDatabase = async () => {
    if (!options.database) await database.close();
  };
  try {
    if (!options.database && database.kind === "pglite") await migrateDatabase(database);
  } catch (error) {
    await closeDatabase();
    throw error;
  }
  if (env.inlineDatabasePasswordWarning) warn(env.inlineDatabasePasswordWarning);
  let admin: AdminApp | null = null;
  const server = Bun.serve({
    hostname: env.HOST,
    port: env.PORT,
    fetch: (request) =>
      admin ? admin.app.fetch(request) : new Response("starting", { status: 503 }),
  });
  const publicUrl = env.ADMIN_URL ?? new URL(server.url.origin);
  // `Secure` cookies are never sent over plain http: relaxed only for loopback in development.
  const secureCookies = !(
    env.allowInsecureLoopback &&
    publicUrl.protocol === "http:" &&
    isLoopbackHost(publicUrl.hostname)
  );
  admin = createAdminApp({
    apiUrl: env.API_URL,
    publicUrl,
    oidc: {
      issuer: env.ADMIN_OIDC_ISSUER,
      clientId: env.ADMIN_OIDC_CLIENT_ID,
      clientSecret: env.clientSecret,
      allowInsecureRequests: env.allowInsecureLoopback,
    },
    session: {
      idleSeconds: env.ADMIN_SESSION_IDLE_SECONDS,
      maxSeconds: env.ADMIN_SESSION_MAX_SECONDS,
      secret: env.sessionSecret,
    },
    database: database.db,
    prometheusUrl: env.PROMETHEUS_URL,
    secureCookies,
    fetch: options.fetch,
    warn,
  });
  const running = admin;
  return {
    url: publicUrl.origin,
    listenUrl: server.url.origin,
    redirectUri: `${publicUrl.origin}/auth/callback`,
    postLogoutRedirectUri: `${publicUrl.origin}/auth/signed-out`,
    async stop() {
      running.stop();
      await server.stop(true);
      await closeDatabase();
    },
  };
}
