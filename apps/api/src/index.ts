export { createApp } from "./app.ts";
export { ADMIN_ROLE, createResidentVerifier, type Principal } from "./auth.ts";
export type { AppDeps } from "./deps.ts";
export {
  loadPartnerSurfaceConfig,
  type PartnerSurfaceConfig,
  type PartnerSurfaceSettings,
} from "./partner-surface/config.ts";
export type { PartnerSurfaceDeps } from "./partner-surface/context.ts";
export {
  createPartnerSurface,
  type RunningPartnerSurface,
  servePartnerSurface,
} from "./partner-surface/surface.ts";
export { createPartners, type Partners, type PartnerTuning } from "./partners.ts";
export type { AppRouter } from "./trpc/router.ts";
