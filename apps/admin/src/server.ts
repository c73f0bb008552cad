import { type AdminAppOptions, createAdminApp } from "./app.ts";

export interface RunningAdmin {
  url: string;
  stop(): Promise<void>;
}

/** Starts the admin app on `hostname:port` (port 0 picks a free one). */
export function serveAdmin(
  options: AdminAppOptions & { hostname: string; port: number },
): RunningAdmin {
  const app = createAdminApp(options);
  const server = Bun.serve({ hostname: options.hostname, port: options.port, fetch: app.fetch });
  return {
    url: server.url.origin,
    async stop() {
      await server.stop(true);
    },
  };
}
