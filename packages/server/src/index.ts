export { type CreateAppOptions, createApp, type HttpEnv, type ServerDeps } from "./app.ts";
export type { Background } from "./background.ts";
export { cidrList, createClientAddressResolver } from "./client-address.ts";
export { type ApiEnv, apiEnvReference, loadApiEnv } from "./env.ts";
export { type Instance, type InstanceOptions, startInstance } from "./instance.ts";
export { type Cidr, createCidrMatcher, parseCidr, parseCidrList } from "./net/cidr.ts";
export {
  loadPartnerSurfaceConfig,
  type PartnerSurfaceConfig,
  type PartnerSurfaceSettings,
} from "./partner-surface/config.ts";
export type { PartnerSurfaceDeps } from "./partner-surface/context.ts";
export { partnerSurfaceDocument } from "./partner-surface/openapi.ts";
export {
  createPartnerSurface,
  partnerClientRateLimit,
  type RunningPartnerSurface,
  servePartnerSurface,
} from "./partner-surface/surface.ts";
export {
  PARTNER_SURFACE_AUDIENCE,
  PARTNER_SURFACE_ISSUER,
} from "./partner-surface/tokens.ts";
export { runInstance } from "./run.ts";
export { type RunningApi, serveApi } from "./serve.ts";
