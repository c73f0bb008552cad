import { adminRouter } from "./admin/router.ts";
import { consentRouter } from "./consent/router.ts";
import { barrierRouter, intercomRouter } from "./devices/open.ts";
import { devicesRouter } from "./devices/router.ts";
import { eventsRouter } from "./events/router.ts";
import { facesRouter } from "./faces/router.ts";
import { keysRouter } from "./keys/router.ts";
import { platesRouter } from "./plates/router.ts";
import { privacyRouter } from "./privacy/router.ts";
import { router } from "./trpc.ts";
import { videoRouter } from "./video/router.ts";

export const appRouter = router({
  devices: devicesRouter,
  intercom: intercomRouter,
  barrier: barrierRouter,
  consent: consentRouter,
  video: videoRouter,
  plates: platesRouter,
  faces: facesRouter,
  keys: keysRouter,
  events: eventsRouter,
  privacy: privacyRouter,
  admin: adminRouter,
});

/** The type clients import: `createTRPCClient<AppRouter>(…)`. */
export type AppRouter = typeof appRouter;
