import {
  CreateKeyRequest,
  IdempotencyKey,
  OPERATIONS,
  PartnerKeyId,
  SiteId,
  Subject,
} from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { SimContext, SimEnv } from "../context.ts";
import { type CreateKeyOutcome, MAX_KEYS_PER_SUBJECT_SITE } from "../guest-keys.ts";
import { createIdempotencyStore } from "../idempotency.ts";
import { apiError, apiNoContent, apiSuccess } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";
import { refuseOtherMethods, serve } from "./contract-routes.ts";
import { readJsonBody } from "./request-body.ts";
import { validate } from "./subject-requests.ts";

const SubjectQuery = z.strictObject({ subject: Subject });
const SitePath = z.object({ siteId: SiteId });

/**
 * `POST /v1/sites/{siteId}/keys` with an `Idempotency-Key` (required: a retried create must not
 * issue a second key): 201 with the key and its code. Every door must be one of the sim's
 * intercoms. The recorded body has no secret (the code is in the answer), so it is kept whole.
 */
function createKeyRoute(ctx: SimContext) {
  const replays = createIdempotencyStore<CreateKeyOutcome>();
  return async (c: Context<SimEnv>) => {
    const record = c.get("record");
    const auth = await authorize(c, ctx, OPERATIONS["keys.create"].scope);
    if (!auth.ok) return auth.response;
    const idempotencyKey = c.req.header("idempotency-key");
    if (idempotencyKey !== undefined) record.idempotencyKey = idempotencyKey;
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    record.body = body.value;
    const path = validate(c, SitePath, { siteId: c.req.param("siteId") });
    if (!path.ok) return path.response;
    const request = validate(c, CreateKeyRequest, body.value);
    if (!request.ok) return request.response;
    record.subject = request.data.subject;
    if (!IdempotencyKey.safeParse(idempotencyKey).success) {
      return apiError(
        c,
        400,
        "invalid_request",
        "Idempotency-Key is required (8-128 of [A-Za-z0-9._:-])",
      );
    }
    const unknown = request.data.devices.filter((device) => !ctx.intercoms.has(device));
    if (unknown.length > 0) return apiError(c, 404, "not_found", `no door ${unknown[0]}`);
    if (Date.parse(request.data.validUntil) <= Date.parse(request.data.validFrom)) {
      return apiError(c, 400, "invalid_request", "validUntil must be after validFrom");
    }
    const store = !ctx.faults.get().keysNotStored;
    const outcome = await replays.run(
      `${auth.claims.client_id}\n${c.req.path}\n${idempotencyKey}`,
      JSON.stringify(request.data),
      async () => ctx.keys.create(auth.claims.client_id, path.data.siteId, request.data, { store }),
    );
    if (outcome.kind === "conflict") {
      return apiError(
        c,
        422,
        "idempotency_key_reused",
        "this Idempotency-Key was used with a different request body",
      );
    }
    if (outcome.kind === "replayed") record.replayed = true;
    if (!outcome.value.ok) {
      return apiError(
        c,
        422,
        "limit_exceeded",
        `at most ${MAX_KEYS_PER_SUBJECT_SITE} keys per subject at a site`,
      );
    }
    const { code: _code, qr: _qr, ...withoutSecrets } = outcome.value.created;
    return apiSuccess(c, outcome.value.created, withoutSecrets, 201);
  };
}

/** `GET /v1/sites/{siteId}/keys?subject=…`: the subject's live keys at the site, no codes. */
function listKeysRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["keys.list"].scope);
    if (!auth.ok) return auth.response;
    const path = validate(c, SitePath, { siteId: c.req.param("siteId") });
    if (!path.ok) return path.response;
    const query = validate(c, SubjectQuery, c.req.query());
    if (!query.ok) return query.response;
    const keys = ctx.keys.list(auth.claims.client_id, query.data.subject, path.data.siteId);
    return apiSuccess(c, { keys }, { items: keys });
  };
}

/** `DELETE /v1/keys/{keyId}?subject=…`: only the subject's own key; 404 when there is none. */
function deleteKeyRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["keys.delete"].scope);
    if (!auth.ok) return auth.response;
    const query = validate(c, SubjectQuery, c.req.query());
    if (!query.ok) return query.response;
    const keyId = PartnerKeyId.safeParse(c.req.param("keyId"));
    const removed =
      keyId.success && ctx.keys.remove(auth.claims.client_id, query.data.subject, keyId.data);
    if (!removed) return apiError(c, 404, "not_found", "no such key for this subject");
    return apiNoContent(c);
  };
}

export function keyRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  serve(app, "keys.list", listKeysRoute(ctx));
  serve(app, "keys.create", createKeyRoute(ctx));
  refuseOtherMethods(app, "keys.list", "keys.create");
  serve(app, "keys.delete", deleteKeyRoute(ctx));
  refuseOtherMethods(app, "keys.delete");
  return app;
}
