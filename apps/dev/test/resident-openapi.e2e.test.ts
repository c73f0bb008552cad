import { afterAll, describe, expect, test } from "bun:test";
import { residentApiDocument } from "@propgate/api";
import { createApp } from "@propgate/server";
import SwaggerClient from "swagger-client";
import { z } from "zod";
import { startTestStack } from "../src/testing/harness.ts";

/**
 * docs/openapi/resident-api.json as a generic OpenAPI client reads it: swagger-client (the
 * Swagger project's JavaScript client, which builds each request from the document alone —
 * the server, the path, the `content`-serialized `?input=` of a query, the JSON body of a
 * mutation, the bearer scheme) sends one request per documented procedure to a running stack.
 */
const stack = await startTestStack();
afterAll(() => stack.close());

type Spec = ReturnType<typeof residentApiDocument>;
const COMMITTED = `${import.meta.dir}/../../../docs/openapi/resident-api.json`;

function reader(spec: Spec, name: string) {
  const schema = spec.components.schemas[name];
  if (!schema) throw new Error(`no component schema ${name}`);
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
}

describe("the resident api's OpenAPI document", () => {
  test("the dev stack serves it at /openapi.json; an app without the option does not", async () => {
    const served = await fetch(`${stack.api.url}/openapi.json`);
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual(JSON.parse(JSON.stringify(residentApiDocument())));
    // What production gets: startInstance passes serveOpenApi only outside production.
    const production = await createApp(stack.deps).request("/openapi.json");
    expect(production.status).toBe(404);
  });

  test("a request built from it by swagger-client reaches every procedure, answered as documented", async () => {
    const spec = JSON.parse(await Bun.file(COMMITTED).text()) as Spec;
    const token = await stack.issuer.mint({ sub: "user-openapi-smoke", sites: ["site-a"] });
    // Every purpose granted, so the partner calls go through to the partners.
    const trpc = stack.client(token);
    for (const consent of await trpc.consent.list.query()) {
      await trpc.consent.grant.mutate({
        purpose: consent.purpose,
        noticeVersion: consent.currentNoticeVersion,
      });
    }
    const outcomes: Array<{ operationId: string; status: number; cause: string | null }> = [];

    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op) continue;
        const media =
          op.requestBody?.content["application/json"] ??
          op.parameters?.[0]?.content?.["application/json"];
        const options = {
          spec,
          operationId: op.operationId,
          parameters: method === "get" && media ? { input: media.example } : {},
          requestBody: method === "post" ? media?.example : undefined,
          securities: { authorized: { residentBearer: { value: token } } },
          server: "{baseUrl}",
          serverVariables: { baseUrl: stack.api.url },
        };
        const request = SwaggerClient.buildRequest(options);
        expect(request.url.split("?")[0]).toBe(`${stack.api.url}${path}`);
        expect(request.method).toBe(method.toUpperCase());

        if (op.responses["200"]?.content?.["text/event-stream"]) {
          // A subscription answers a stream that stays open (journal granted): its headers say
          // it is the documented one; then the client hangs up, as an app leaving the screen.
          const hangUp = new AbortController();
          const stream = await fetch(request.url, {
            headers: request.headers,
            signal: hangUp.signal,
          });
          const where = { operationId: op.operationId, status: stream.status };
          expect({ ...where, type: stream.headers.get("content-type") }).toEqual({
            ...where,
            status: 200,
            type: "text/event-stream",
          });
          expect(stream.headers.get("x-request-id")).toEqual(expect.any(String));
          hangUp.abort();
          outcomes.push({ ...where, cause: null });
          continue;
        }
        const answer = await SwaggerClient.execute(options).catch(
          (error: { response?: Awaited<ReturnType<typeof SwaggerClient.execute>> }) => {
            if (error.response) return error.response;
            throw error;
          },
        );
        const where = { operationId: op.operationId, status: answer.status };
        expect(where).toEqual({ ...where, status: expect.any(Number) });
        expect({ ...where, documented: String(answer.status) in op.responses }).toEqual({
          ...where,
          documented: true,
        });
        expect(answer.headers["x-request-id"]).toEqual(expect.any(String));
        if (answer.status === 200) {
          const data = (answer.body as { result: { data: unknown } }).result.data;
          const name = `${op.operationId
            .split(".")
            .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
            .join("")}Output`;
          expect({ ...where, valid: reader(spec, name).safeParse(data).success }).toEqual({
            ...where,
            valid: true,
          });
          outcomes.push({ ...where, cause: null });
          continue;
        }
        const envelope = reader(spec, "ErrorEnvelope").parse(answer.body) as {
          error: { data: { httpStatus: number; cause: { code: string } } };
        };
        const cause = envelope.error.data.cause.code;
        // The status carries this cause, as the document says (a 404 is never "no such route").
        expect({ ...where, cause, listed: true }).toEqual({
          ...where,
          cause,
          listed:
            op.responses[String(answer.status)]?.description.includes(`\`${cause}\``) ?? false,
        });
        expect(envelope.error.data.httpStatus).toBe(answer.status);
        outcomes.push({ ...where, cause });
      }
    }

    expect(outcomes).toHaveLength(
      Object.values(spec.paths).flatMap((item) => Object.values(item)).length,
    );
    expect(
      outcomes.some((outcome) => outcome.status === 404 && outcome.cause !== "NOT_FOUND"),
    ).toBe(false);
    expect(outcomes.filter((outcome) => outcome.status === 405)).toEqual([]);
    // The examples' ids exist on the embedded default: most calls go through; the rest name
    // records that do not exist, or carry a placeholder SDP offer or JPEG.
    const statuses = Object.fromEntries(outcomes.map((o) => [o.operationId, o.cause ?? o.status]));
    expect(statuses).toEqual({
      "devices.list": 200,
      "intercom.openDoor": 200,
      "barrier.open": 200,
      "consent.list": 200,
      "consent.receipts": 200,
      "consent.grant": 200,
      "consent.revoke": 200,
      "video.createSession": "INVALID_INPUT",
      "video.endSession": "NOT_FOUND",
      "video.listSessions": 200,
      "plates.list": 200,
      "plates.add": 200,
      "plates.remove": "PARTNER_REJECTED",
      "faces.list": 200,
      "faces.enroll": "INVALID_INPUT",
      "faces.remove": "PARTNER_REJECTED",
      "events.list": 200,
      "events.onEvent": 200,
      // The example's validUntil is a fixed date, years past GUEST_KEY_MAX_HOURS; its key id made up.
      "keys.create": "INVALID_INPUT",
      "keys.list": 200,
      "keys.revoke": "NOT_FOUND",
      "privacy.report": 200,
    });
  });
});
