import { isConsentGranted, listJournal } from "@propgate/consent-audit";
import { DeviceId } from "@propgate/domain";
import { z } from "zod";
import { residentProcedure, router } from "../trpc.ts";
import { JournalEntryView, journalEntryView } from "./resident-event.ts";
import { onEvent } from "./subscription.ts";

const ListInput = z
  .strictObject({
    since: z.iso.datetime({ offset: true }).optional(),
    deviceId: DeviceId.optional(),
    cursor: z.string().min(1).max(200).optional(),
  })
  .default({});

const ListOutput = z.object({
  /** Without `journal` consent nothing is kept, so the list is empty: the app can say why. */
  journal: z.enum(["granted", "not_granted"]),
  entries: z.array(JournalEntryView),
  nextCursor: z.string().nullable(),
});

export const eventsRouter = router({
  /** The resident's journal, newest first, a page at a time (`nextCursor` for the next). */
  list: residentProcedure
    .input(ListInput)
    .output(ListOutput)
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const { userId } = ctx.principal;
      const [granted, page] = await Promise.all([
        isConsentGranted(db, userId, "journal"),
        listJournal(db, userId, input),
      ]);
      return {
        journal: granted ? ("granted" as const) : ("not_granted" as const),
        entries: page.entries.map(journalEntryView),
        nextCursor: page.nextCursor,
      };
    }),
  /** The same entries live, as Server-Sent Events, resuming from `Last-Event-ID` (subscription.ts). */
  onEvent,
});
