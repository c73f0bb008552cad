import { constants as cryptoConstants } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CertificateFiles } from "@propgate/config";
import type { TLSOptions } from "bun";
import { type CreateAppOptions, createApp, type ServerDeps } from "./app.ts";

export interface RunningApi {
  url: string;
  /** Whether the api serves HTTPS. */
  tls: boolean;
  /**
   * Stops listening; requests in flight may finish for `graceMs` (default 0: cut at once), then
   * whatever is left is closed.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * TLS 1.2 at least. Bun (BoringSSL) already refuses TLS 1.0 and 1.1; saying so here keeps it
 * true should a default ever change. Bun.serve has no `minVersion`, but honours these options.
 */
const NO_TLS_BELOW_1_2 = cryptoConstants.SSL_OP_NO_TLSv1 | cryptoConstants.SSL_OP_NO_TLSv1_1;

/** Bun.serve `tls` for a listener of ours: the certificate and key (read now), TLS ≥ 1.2. */
export function serverTlsOptions(files: CertificateFiles): TLSOptions {
  return {
    cert: readFileSync(files.certFile, "utf8"),
    key: readFileSync(files.keyFile, "utf8"),
    secureOptions: NO_TLS_BELOW_1_2,
  };
}

/**
 * Serves the api with Bun on `hostname:port` (port 0 picks a free one), over HTTPS when given a
 * certificate and key.
 */
export function serveApi(
  deps: ServerDeps,
  options: { hostname: string; port: number; tls?: CertificateFiles | null } & CreateAppOptions,
): RunningApi {
  const app = createApp(deps, options);
  const tls = options.tls ? serverTlsOptions(options.tls) : undefined;
  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    tls,
    // Bun's own cap is a backstop; the app answers oversized bodies itself with a clear error.
    maxRequestBodySize:
      Math.max(deps.settings.maxBodyBytes, deps.settings.faceMaxImageBytes * 2) * 2,
    fetch: app.fetch,
  });
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  return {
    url: `${tls ? "https" : "http"}://${host}:${server.port}`,
    tls: tls !== undefined,
    async stop(graceMs = 0) {
      if (graceMs > 0) {
        // No new connections; the requests in flight finish, up to the grace.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          server.stop(false),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(timer);
      }
      await server.stop(true);
    },
  };
}

/**
 * `/metrics` on a listener of its own (`METRICS_LISTEN`, loopback by default), so the residents'
 * port never serves it. Anything else is 404.
 */
export function serveMetrics(
  deps: Pick<ServerDeps, "metrics">,
  listen: { hostname: string; port: number },
): RunningApi {
  const { registry } = deps.metrics;
  const server = Bun.serve({
    hostname: listen.hostname,
    port: listen.port,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD"))
        return Response.json(
          { error: { code: "NOT_FOUND", message: "no such route" } },
          { status: 404 },
        );
      return new Response(await registry.metrics(), {
        headers: { "content-type": registry.contentType },
      });
    },
  });
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  return {
    url: `http://${host}:${server.port}`,
    tls: false,
    async stop() {
      await server.stop(true);
    },
  };
}
