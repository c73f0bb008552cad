export { createApp } from "./app.ts";
export { ADMIN_ROLE, createResidentVerifier, type Principal } from "./auth.ts";
export type { AppDeps } from "./deps.ts";
export { createPartners, type Partners, type PartnerTuning } from "./partners.ts";
export type { AppRouter } from "./trpc/router.ts";
