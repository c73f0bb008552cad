import { randomBytes } from "node:crypto";
import { IdempotencyKey, OPERATIONS, OpenRequest } from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import type { OpenResult, SimContext, SimEnv } from "../context.ts";
import { describeZodError } from "../faults.ts";
import { apiError, apiSuccess } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";
import { refuseOtherMethods, serve } from "./contract-routes.ts";
import { readJsonBody } from "./request-body.ts";

type DeviceKind = "intercom" | "barrier";

const OPERATION = { intercom: "intercom.open", barrier: "barrier.open" } as const;

function newEventId(): string {
  return `sim_evt_${randomBytes(12).toString("hex")}`;
}

/** `POST /v1/{intercoms|barriers}/{deviceId}/open`, idempotent under an `Idempotency-Key`. */
function openDeviceRoute(ctx: SimContext, kind: DeviceKind) {
  const spec = OPERATIONS[OPERATION[kind]];
  const devices = kind === "intercom" ? ctx.intercoms : ctx.barriers;

  return async (c: Context<SimEnv>) => {
    const record = c.get("record");
    const auth = await authorize(c, ctx, spec.scope);
    if (!auth.ok) return auth.response;

    const deviceId = c.req.param("deviceId") ?? "";
    record.deviceId = deviceId;
    const idempotencyKey = c.req.header("idempotency-key");
    if (idempotencyKey !== undefined) record.idempotencyKey = idempotencyKey;

    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    record.body = body.value;
    const parsed = OpenRequest.safeParse(body.value);
    if (parsed.success) record.subject = parsed.data.subject;

    if (!devices.has(deviceId)) {
      return apiError(c, 404, "not_found", `no ${kind} ${deviceId}`);
    }
    if (!parsed.success) {
      return apiError(c, 400, "invalid_request", describeZodError(parsed.error));
    }
    if (idempotencyKey !== undefined && !IdempotencyKey.safeParse(idempotencyKey).success) {
      return apiError(
        c,
        400,
        "invalid_request",
        "Idempotency-Key must be 8-128 characters of [A-Za-z0-9._:-]",
      );
    }

    const open = async (): Promise<OpenResult> => {
      record.opened = true;
      return { eventId: newEventId(), openedAt: new Date().toISOString() };
    };

    let result: OpenResult;
    if (idempotencyKey === undefined) {
      result = await open();
    } else {
      const key = `${auth.claims.client_id}\n${c.req.path}\n${idempotencyKey}`;
      const outcome = await ctx.idempotency.run(key, JSON.stringify(parsed.data), open);
      if (outcome.kind === "conflict") {
        return apiError(
          c,
          422,
          "idempotency_key_reused",
          "this Idempotency-Key was used with a different request body",
        );
      }
      if (outcome.kind === "replayed") record.replayed = true;
      result = outcome.value;
    }
    record.eventId = result.eventId;
    return apiSuccess(c, result, { openedAt: result.openedAt });
  };
}

export function openDeviceRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  for (const kind of ["intercom", "barrier"] as const) {
    serve(app, OPERATION[kind], openDeviceRoute(ctx, kind));
    refuseOtherMethods(app, OPERATION[kind]);
  }
  return app;
}
