import { ConfigError } from "@propgate/config";
import { startBackground } from "./background.ts";
import { createDeps } from "./bootstrap.ts";
import { loadApiEnv } from "./env.ts";
import { servePartnerSurface } from "./partner-surface/surface.ts";
import { serveApi } from "./server.ts";

/** Runs one api instance from the environment, as in production. */
try {
  const env = loadApiEnv();
  const deps = await createDeps(env);
  const background = await startBackground(deps, env);
  const api = serveApi(deps, { hostname: env.HOST, port: env.PORT, tls: env.tls });
  deps.logger.info(
    { url: api.url, tls: api.tls, instanceId: deps.instanceId, database: deps.database.kind },
    "api listening",
  );
  if (!api.tls) {
    deps.logger.warn(
      "api serves plain http: set TLS_CERT_FILE and TLS_KEY_FILE unless TLS ends in front of it",
    );
  }
  const partnerSurface = env.partnerSurface ? servePartnerSurface(deps, env.partnerSurface) : null;
  if (partnerSurface) deps.logger.info({ url: partnerSurface.url }, "partner surface listening");
  const shutdown = async () => {
    deps.logger.info("shutting down");
    await partnerSurface?.stop();
    await api.stop();
    await background.stop();
    await deps.rateLimits.close();
    await deps.database.close();
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
