import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import {
  EventDraft,
  EventRefused,
  type EventReport,
  type PropgateEvents,
  PropgateTarget,
} from "../events/propgate-events.ts";
import { describeZodError, type FaultController, FaultPatch } from "../faults.ts";
import { RECORDED_OPERATIONS, type Recorder } from "../recorder.ts";
import type { SubjectData } from "../subject-data.ts";
import type { VideoSessions } from "../video/sessions.ts";

const RequestsQuery = z.strictObject({
  operation: z.enum(RECORDED_OPERATIONS).optional(),
  subject: z.string().max(128).optional(),
});
const DataQuery = z.strictObject({ subject: z.string().max(128).optional() });
const RingRequest = z.strictObject({
  deviceId: z.string().min(1).max(64),
  unitId: z.string().min(1).max(64),
  cameraId: z.string().min(1).max(64).optional(),
});
const EndCallRequest = z.strictObject({ outcome: z.enum(["answered", "missed"]) });

/** A JSON body checked against `schema`, or the 400 answer saying what is wrong. */
async function readBody<T extends z.ZodType>(
  c: Context,
  schema: T,
): Promise<{ ok: true; body: z.output<T> } | { ok: false; answer: Response }> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    return { ok: false, answer: badRequest(c, "body must be application/json") };
  let json: unknown;
  try {
    json = JSON.parse(await c.req.text());
  } catch {
    return { ok: false, answer: badRequest(c, "body is not valid JSON") };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, answer: badRequest(c, describeZodError(parsed.error)) };
  return { ok: true, body: parsed.data };
}

/** Propgate's answer to an event the sim posted, or why the sim sent nothing. */
async function reported(c: Context, report: () => Promise<EventReport>) {
  try {
    return c.json(await report());
  } catch (error) {
    if (error instanceof EventRefused) return badRequest(c, error.message);
    if (error instanceof z.ZodError) return badRequest(c, describeZodError(error));
    return c.json({ error: "unavailable", message: "Propgate could not be reached" }, 502);
  }
}

function badRequest(c: Context, message: string) {
  return c.json({ error: "invalid_request", message }, 400);
}

/**
 * The admin API, served on its own listener: fault injection and the recorder. It has no
 * authentication, so it binds to loopback unless told otherwise.
 */
export function createAdminApp(deps: {
  faults: FaultController;
  recorder: Recorder;
  video?: VideoSessions;
  data?: SubjectData;
  events?: PropgateEvents;
}): Hono {
  const { faults, recorder, video, data, events } = deps;
  const app = new Hono();

  app.get("/admin/faults", (c) => c.json(faults.get()));

  app.put("/admin/faults", async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") return badRequest(c, "body must be application/json");
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return badRequest(c, "body is not valid JSON");
    }
    const patch = FaultPatch.safeParse(body);
    if (!patch.success) return badRequest(c, describeZodError(patch.error));
    return c.json(faults.set(patch.data));
  });

  app.post("/admin/faults/reset", (c) => c.json(faults.reset()));

  app.get("/admin/requests", (c) => {
    const query = RequestsQuery.safeParse(c.req.query());
    if (!query.success) return badRequest(c, describeZodError(query.error));
    const { operation, subject } = query.data;
    const requests = recorder.all(
      (record) =>
        (operation === undefined || record.operation === operation) &&
        (subject === undefined || record.subject === subject),
    );
    return c.json({ requests, opens: recorder.opens().length });
  });

  app.delete("/admin/requests", (c) => {
    recorder.clear();
    return c.body(null, 204);
  });

  app.get("/admin/video/sessions", (c) => c.json(video?.sessions() ?? []));

  app.get("/admin/data", (c) => {
    const query = DataQuery.safeParse(c.req.query());
    if (!query.success) return badRequest(c, describeZodError(query.error));
    const { subject } = query.data;
    return c.json({
      plates: data?.plates(subject) ?? [],
      faces: data?.faces(subject) ?? [],
      erasures: data?.erasures() ?? [],
    });
  });

  if (events) {
    app.put("/admin/propgate", async (c) => {
      const read = await readBody(c, PropgateTarget);
      if (!read.ok) return read.answer;
      events.connect(read.body);
      return c.body(null, 204);
    });
    app.post("/admin/events", async (c) => {
      const read = await readBody(c, EventDraft);
      return read.ok ? reported(c, () => events.send(read.body)) : read.answer;
    });
    app.post("/admin/calls", async (c) => {
      const read = await readBody(c, RingRequest);
      return read.ok ? reported(c, () => events.ring(read.body)) : read.answer;
    });
    app.post("/admin/calls/:eventId/end", async (c) => {
      const read = await readBody(c, EndCallRequest);
      const eventId = c.req.param("eventId");
      return read.ok ? reported(c, () => events.endCall(eventId, read.body.outcome)) : read.answer;
    });
  }

  app.notFound((c) => c.json({ error: "not_found", message: "no such admin endpoint" }, 404));
  return app;
}
