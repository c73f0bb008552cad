import { ConsentRequiredError } from "@propgate/consent-audit";
import { tracked } from "@trpc/server";
import { z } from "zod";
import { toTRPCError } from "../errors.ts";
import { residentProcedure } from "../trpc.ts";
import { ResidentEvent } from "./resident-event.ts";

/** The seq of the last event the client got (tRPC fills it from `Last-Event-ID` on reconnect). */
const OnEventInput = z.object({
  lastEventId: z
    .string()
    .regex(/^\d{1,15}$/, "lastEventId is the seq of an event this stream sent")
    .optional(),
});

/**
 * `events.onEvent`: the resident's journal entries as Server-Sent Events, each with its seq as
 * the SSE id. With `lastEventId` it first sends what came after it (still in the journal), then
 * each new entry from any instance; without, only new ones. Needs `journal` consent: without it
 * the stream ends at once with `CONSENT_REQUIRED`, and a revocation ends it the same way on
 * every instance. Over the stream caps: `RATE_LIMITED` (this resident) or `UNAVAILABLE`.
 */
export const onEvent = residentProcedure.input(OnEventInput).subscription(async function* ({
  ctx,
  input,
  signal,
}) {
  const { journalEvents } = ctx.deps;
  const userId = ctx.principal.userId;
  const afterSeq = input.lastEventId === undefined ? null : Number(input.lastEventId);
  const events = journalEvents.hub.open(userId, afterSeq, {
    signal,
    admit: async () => {
      if (!(await journalEvents.consented(userId))) throw new ConsentRequiredError("journal", "");
    },
  });
  try {
    for await (const event of events) {
      yield tracked(String(event.seq), ResidentEvent.parse(event));
    }
  } catch (error) {
    // Errors of a running stream pass no middleware: the one mapping is applied here.
    throw toTRPCError(error);
  }
});
