import { listDevicesForSites } from "@propgate/consent-audit";
import { DEVICE_KINDS, DeviceId, SiteId } from "@propgate/domain";
import { z } from "zod";
import { residentProcedure, router } from "../trpc.ts";

/** A device of one of the resident's sites, as the app shows it. */
const DeviceView = z.object({
  id: DeviceId,
  kind: z.enum(DEVICE_KINDS),
  name: z.string().min(1).max(100),
  siteId: SiteId,
});

export const devicesRouter = router({
  list: residentProcedure.output(z.array(DeviceView)).query(async ({ ctx }) => {
    const devices = await listDevicesForSites(ctx.deps.database.db, ctx.principal.sites);
    return devices.map((device) => ({
      id: device.id,
      kind: device.kind,
      name: device.name,
      siteId: device.siteId,
    }));
  }),
});
