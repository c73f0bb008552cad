import { listDevicesForSites } from "@propgate/consent-audit";
import { residentProcedure, router } from "../trpc.ts";

export const devicesRouter = router({
  list: residentProcedure.query(async ({ ctx }) => {
    const devices = await listDevicesForSites(ctx.deps.database.db, ctx.principal.sites);
    return devices.map((device) => ({
      id: device.id,
      kind: device.kind,
      name: device.name,
      siteId: device.siteId,
    }));
  }),
});
