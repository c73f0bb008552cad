import { PartnerDeviceId, PartnerScope } from "@propgate/partner-client/contract";
import { z } from "zod";
import type { PropgateTarget } from "./events/propgate-events.ts";
import type { Dialect } from "./faults.ts";
import type { SimTlsOptions } from "./tls.ts";

export const SimClient = z.strictObject({
  clientId: z.string().min(1).max(256),
  clientSecret: z.string().min(1).max(1024),
  scopes: z.array(PartnerScope),
});
export type SimClient = z.infer<typeof SimClient>;

export const SimClients = z
  .array(SimClient)
  .min(1)
  .refine((clients) => new Set(clients.map((c) => c.clientId)).size === clients.length, {
    error: "client ids must be unique",
  });

export const SimName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, {
  error: "must be 1-32 of [a-z0-9-]",
});

export interface PartnerSimOptions {
  /** e.g. "intercom" | "barrier"; used in the default audience and the auth realm. */
  name?: string;
  /** Default "127.0.0.1". */
  hostname?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** The admin (fault injection) API listens on its own port; default 0. */
  adminPort?: number;
  clients: SimClient[];
  /** Default `urn:propgate:partner-sim:${name}`. */
  audience?: string;
  /** Default 300. */
  tokenLifetimeSeconds?: number;
  /** Known device ids for /v1/intercoms/{id}/open; others answer 404. */
  intercoms?: string[];
  /** Known device ids for /v1/barriers/{id}/open; others answer 404. */
  barriers?: string[];
  /** Known camera ids for /v1/cameras/{id}/webrtc; others answer 404. */
  cameras?: string[];
  /** How long a video session lives before the sim ends it; default 300. */
  videoSessionTtlSeconds?: number;
  /** The VP8 IVF clip every camera streams, looped; default `fixtures/clip.ivf`. */
  videoClipPath?: string;
  /**
   * The URL clients reach the sim at, used as issuer (default `http://{hostname}:{port}`).
   * Needed when binding to 0.0.0.0 or behind a proxy.
   */
  publicUrl?: string;
  /** How the sim speaks (see `DIALECTS`); switchable at run time through the faults. Default `propgate`. */
  dialect?: Dialect;
  /** Serve HTTPS (URLs and issuer become https://), with client certificates when a CA is given. */
  tls?: SimTlsOptions;
  /** Propgate's partner surface and the client it issued the sim, to report events to. */
  propgate?: PropgateTarget;
}

export const DEFAULT_NAME = "partner";
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;
export const DEFAULT_VIDEO_SESSION_TTL_SECONDS = 300;

export interface ResolvedSimOptions {
  name: string;
  clients: SimClient[];
  audience: string;
  tokenLifetimeSeconds: number;
  intercoms: string[];
  barriers: string[];
  cameras: string[];
  videoSessionTtlSeconds: number;
}

const Resolved = z.object({
  name: SimName,
  clients: SimClients,
  audience: z.string().min(1).max(512),
  tokenLifetimeSeconds: z.number().int().min(1).max(86_400),
  intercoms: z.array(PartnerDeviceId),
  barriers: z.array(PartnerDeviceId),
  cameras: z.array(PartnerDeviceId),
  videoSessionTtlSeconds: z.number().int().min(1).max(86_400),
});

/** Fills defaults and validates; throws a `z.ZodError` on bad options. */
export function resolveSimOptions(options: PartnerSimOptions): ResolvedSimOptions {
  const name = options.name ?? DEFAULT_NAME;
  return Resolved.parse({
    name,
    clients: options.clients,
    audience: options.audience ?? `urn:propgate:partner-sim:${name}`,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS,
    intercoms: options.intercoms ?? [],
    barriers: options.barriers ?? [],
    cameras: options.cameras ?? [],
    videoSessionTtlSeconds: options.videoSessionTtlSeconds ?? DEFAULT_VIDEO_SESSION_TTL_SECONDS,
  });
}
