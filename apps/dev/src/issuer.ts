import { ADMIN_ROLE } from "@propgate/api";
import { SiteId, UnitId, UserId } from "@propgate/domain";
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { z } from "zod";
import { createDevOidc, type DevOidcClient } from "./issuer-oidc.ts";

/**
 * A development identity issuer standing in for tenant-core's identity provider: serves a JWKS
 * and mints resident/admin tokens; and, for the admin app's sign-in, an OpenID Connect provider
 * (`issuer-oidc.ts`). Loopback only; never part of a production deployment.
 */
export interface DevIssuer {
  url: string;
  issuer: string;
  audience: string;
  jwksUrl: URL;
  mint(claims: MintClaims): Promise<string>;
  /** Registers an OpenID Connect client (the admin app) with its exact redirect URIs. */
  registerClient(client: DevOidcClient): void;
  stop(): Promise<void>;
}

export interface MintClaims {
  sub: string;
  sites: string[];
  /** The units (flats) the resident lives in (the `units` claim). */
  units?: string[];
  /** The legacy admin role (`propgate:admin`, which the api takes as operator). */
  admin?: boolean;
  /** An admin role: `propgate:viewer` reads, `propgate:operator` also acts. */
  role?: "viewer" | "operator";
  expiresInSeconds?: number;
  /** Tests only: an absolute expiry (seconds since epoch, may be past) and another audience. */
  expiresAt?: number;
  audience?: string;
}

const MintRequest = z.strictObject({
  sub: UserId,
  sites: z.array(SiteId).max(200),
  units: z.array(UnitId).max(50).optional(),
  admin: z.boolean().optional(),
  expiresInSeconds: z.number().int().min(1).max(86_400).optional(),
});

export async function generateIssuerKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `dev-${Date.now().toString(36)}`, alg: "RS256" };
}

export async function startDevIssuer(options: {
  privateJwk: JWK;
  audience: string;
  port?: number;
  /** Serve the JWKS over HTTPS with this certificate (PEM); tests of production settings. */
  tls?: { cert: string; key: string };
}): Promise<DevIssuer> {
  const privateKey = await importJWK(options.privateJwk, "RS256");
  const { d, p, q, dp, dq, qi, ...publicJwk } = options.privateJwk;
  const kid = options.privateJwk.kid ?? "dev";
  let issuer = "";

  const mint: DevIssuer["mint"] = (claims) =>
    new SignJWT({
      sites: claims.sites,
      units: claims.units ?? [],
      roles: claims.role ? [`propgate:${claims.role}`] : claims.admin ? [ADMIN_ROLE] : [],
    })
      .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
      .setIssuer(issuer)
      .setAudience(claims.audience ?? options.audience)
      .setSubject(claims.sub)
      .setIssuedAt()
      .setExpirationTime(claims.expiresAt ?? `${claims.expiresInSeconds ?? 3600}s`)
      .sign(privateKey);

  const oidc = createDevOidc({
    issuer: () => issuer,
    accessToken: (sub, role, lifetimeSeconds) =>
      mint({ sub, sites: [], role, expiresInSeconds: lifetimeSeconds }),
    idToken: (payload, audience, lifetimeSeconds) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(`${lifetimeSeconds}s`)
        .sign(privateKey),
  });

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    ...(options.tls ? { tls: options.tls } : {}),
    async fetch(request) {
      const url = new URL(request.url);
      const { pathname } = url;
      if (request.method === "GET" && pathname === "/.well-known/jwks.json") {
        return Response.json({ keys: [{ ...publicJwk, kid, use: "sig", alg: "RS256" }] });
      }
      if (request.method === "POST" && pathname === "/dev/token") {
        const body = MintRequest.safeParse(await request.json().catch(() => null));
        if (!body.success) {
          return Response.json(
            {
              error: {
                code: "INVALID_INPUT",
                message: "expected {sub, sites[], units[]?, admin?, expiresInSeconds?}",
              },
            },
            { status: 400 },
          );
        }
        return Response.json({ token: await mint(body.data), tokenType: "Bearer" });
      }
      const answer = await oidc.handle(request, url);
      if (answer) return answer;
      return Response.json(
        { error: { code: "NOT_FOUND", message: "no such route" } },
        { status: 404 },
      );
    },
  });
  issuer = `${options.tls ? "https" : "http"}://127.0.0.1:${server.port}`;
  return {
    url: issuer,
    issuer,
    audience: options.audience,
    jwksUrl: new URL("/.well-known/jwks.json", issuer),
    mint,
    registerClient: oidc.registerClient,
    stop: () => server.stop(true),
  };
}
