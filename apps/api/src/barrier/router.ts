import { openDevice } from "../devices/open-device.ts";
import { openProcedure, router } from "../trpc/init.ts";
import { OpenInput } from "../trpc/inputs.ts";

export const barrierRouter = router({
  open: openProcedure
    .input(OpenInput)
    .mutation(({ ctx, input }) =>
      openDevice(ctx.deps, ctx.principal, ctx.audit, "barrier.open", input),
    ),
});
