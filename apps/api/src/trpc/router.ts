import { adminRouter } from "../admin/router.ts";
import { barrierRouter } from "../barrier/router.ts";
import { consentRouter } from "../consent/router.ts";
import { devicesRouter } from "../devices/router.ts";
import { facesRouter } from "../faces/router.ts";
import { intercomRouter } from "../intercom/router.ts";
import { platesRouter } from "../plates/router.ts";
import { videoRouter } from "../video/router.ts";
import { router } from "./init.ts";

export const appRouter = router({
  devices: devicesRouter,
  intercom: intercomRouter,
  barrier: barrierRouter,
  consent: consentRouter,
  video: videoRouter,
  plates: platesRouter,
  faces: facesRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
