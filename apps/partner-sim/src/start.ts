import type { Server } from "bun";
import { createPartnerSimApp, type PartnerSimApp } from "./app.ts";
import type { PartnerSimOptions } from "./options.ts";
import { resolveSimTls } from "./tls.ts";

/** The sim's app (issuer, recorder, faults, video sessions, data) on its two listeners. */
export interface PartnerSim extends Omit<PartnerSimApp, "api" | "admin" | "close"> {
  /** Base URL of the partner API and OAuth server, e.g. http://127.0.0.1:34567 (https with `tls`). */
  url: string;
  /** Base URL of the admin listener. */
  adminUrl: string;
  /** The OAuth issuer; equals `url` unless `publicUrl` was given. */
  issuer: string;
  /** Closes every video session and both listeners. */
  stop(): Promise<void>;
}

function baseUrl(hostname: string, port: number, secure: boolean): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${secure ? "https" : "http"}://${host}:${port}`;
}

/**
 * Starts the sim on two listeners: partner API + OAuth server, and the admin API. With `tls`
 * both serve HTTPS; the API one also demands client certificates when a CA is given.
 */
export async function startPartnerSim(options: PartnerSimOptions): Promise<PartnerSim> {
  const hostname = options.hostname ?? "127.0.0.1";
  const tls = options.tls ? resolveSimTls(options.tls) : null;
  let handle:
    | ((request: Request, server: Server<undefined>) => Response | Promise<Response>)
    | null = null;
  const apiServer = Bun.serve({
    hostname,
    port: options.port ?? 0,
    tls: tls?.api,
    fetch: (request, server) =>
      handle ? handle(request, server) : new Response("starting", { status: 503 }),
  });
  let adminServer: Server<undefined> | null = null;
  try {
    const url = baseUrl(hostname, apiServer.port ?? 0, tls !== null);
    const sim = await createPartnerSimApp({
      ...options,
      issuer: options.publicUrl ?? url,
      holdOpen: (request) => apiServer.timeout(request, 0),
    });
    handle = (request, server) => sim.api.fetch(request, server);
    adminServer = Bun.serve({
      hostname,
      port: options.adminPort ?? 0,
      tls: tls?.admin,
      fetch: sim.admin.fetch,
    });
    const admin = adminServer;

    let stopped: Promise<void> | null = null;
    return {
      url,
      adminUrl: baseUrl(hostname, admin.port ?? 0, tls !== null),
      issuer: sim.issuer,
      audience: sim.audience,
      recorder: sim.recorder,
      faults: sim.faults,
      video: sim.video,
      data: sim.data,
      keys: sim.keys,
      events: sim.events,
      stop() {
        stopped ??= (async () => {
          await sim.close();
          await Promise.all([apiServer.stop(true), admin.stop(true)]);
        })();
        return stopped;
      },
    };
  } catch (error) {
    await Promise.all([apiServer.stop(true), adminServer?.stop(true)]);
    throw error;
  }
}
