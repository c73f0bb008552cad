import { createApp } from "./app.ts";
import type { AppDeps } from "./deps.ts";

export interface RunningApi {
  url: string;
  stop(): Promise<void>;
}

/** Serves the api with Bun on `hostname:port` (port 0 picks a free one). */
export function serveApi(deps: AppDeps, options: { hostname: string; port: number }): RunningApi {
  const app = createApp(deps);
  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    // Bun's own cap is a backstop; the app answers oversized bodies itself with a clear error.
    maxRequestBodySize: Math.max(deps.maxBodyBytes, deps.faceMaxImageBytes * 2) * 2,
    fetch: app.fetch,
  });
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  return {
    url: `http://${host}:${server.port}`,
    async stop() {
      await server.stop(true);
    },
  };
}
