import { ConfigError } from "@propgate/config";
import { startupFailure } from "@propgate/consent-audit";
import { type FlushableDestination, stdoutByTurn } from "@propgate/observability";
import { type ApiEnv, loadApiEnv } from "./env.ts";
import { type Instance, type InstanceOptions, startInstance } from "./instance.ts";

/**
 * A process that is one api instance: settings from the environment (a bad one stops it with
 * one line naming the variable, exit 1), then serve until SIGTERM or SIGINT, then stop in order.
 * `check` may refuse settings an entry point does not accept.
 */
export async function runInstance(
  options: InstanceOptions & { check?: (env: ApiEnv) => string | null } = {},
): Promise<Instance> {
  let env: ApiEnv;
  try {
    env = loadApiEnv();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const refusal = options.check?.(env) ?? null;
  if (refusal) {
    console.error(refusal);
    process.exit(1);
  }
  // Log lines go out once per event-loop turn, not one write each; the stop writes what is held.
  const logDestination: FlushableDestination | null =
    options.logDestination || options.logger ? null : stdoutByTurn();
  const exit = (code: number) => {
    logDestination?.flush();
    process.exit(code);
  };
  let instance: Instance;
  try {
    instance = await startInstance(env, {
      ...options,
      ...(logDestination ? { logDestination } : {}),
    });
  } catch (error) {
    // One line an operator can act on (the database or a port it could not reach), no stack.
    console.error(`api did not start: ${startupFailure(error)}`);
    process.exit(1);
  }
  const { deps, api, partnerSurface } = instance;
  deps.logger.info(
    {
      url: api.url,
      tls: api.tls,
      instanceId: deps.settings.instanceId,
      database: deps.database.kind,
    },
    "api listening",
  );
  if (!api.tls) {
    deps.logger.warn(
      "api serves plain http: set TLS_CERT_FILE and TLS_KEY_FILE unless TLS ends in front of it",
    );
  }
  if (partnerSurface) deps.logger.info({ url: partnerSurface.url }, "partner surface listening");
  const shutdown = async (signal: string) => {
    const graceMs = env.SHUTDOWN_GRACE_MS;
    const drainMs = Math.min(env.shutdownDrainMs, graceMs / 2);
    deps.logger.info({ signal, drainMs, graceMs }, "shutting down: draining");
    // Whatever happens below, the process is gone within the grace.
    setTimeout(() => {
      deps.logger.error({ graceMs }, "shutdown took longer than SHUTDOWN_GRACE_MS; exiting");
      exit(1);
    }, graceMs).unref();
    instance.drain();
    await Bun.sleep(drainMs);
    // The rest of the grace, less a margin for the background work and the audit flush.
    await instance.stop({ graceMs: Math.max(0, graceMs - drainMs - 2000) });
    deps.logger.info("stopped");
    exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  return instance;
}
