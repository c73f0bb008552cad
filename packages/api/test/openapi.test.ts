import { describe, expect, test } from "bun:test";
import { ERROR_CODES } from "@propgate/domain";
import { committedDrift, type JsonSchema } from "@propgate/openapi";
import { openApiProblems } from "@propgate/openapi/validate";
import { z } from "zod";
import { residentApiDocument } from "../src/openapi.ts";
import { appRouter } from "../src/root.ts";

const document = residentApiDocument();

function component(name: string): JsonSchema {
  const schema = document.components.schemas[name];
  if (!schema) throw new Error(`no component schema ${name}`);
  return schema;
}
const reader = (name: string) =>
  z.fromJSONSchema(component(name) as Parameters<typeof z.fromJSONSchema>[0]);

describe("docs/openapi/resident-api.json", () => {
  test("is what the generator writes now from the router", async () => {
    expect(await committedDrift("resident-api.json", document)).toBeNull();
  });

  test("is a valid OpenAPI 3.1 document", async () => {
    expect(await openApiProblems(document)).toEqual([]);
  });
});

describe("the resident api document", () => {
  const procedures = Object.entries(
    appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
  );

  test("has every resident procedure of the router, as tRPC sends it, and no admin.*", () => {
    const resident = procedures.filter(([path]) => !path.startsWith("admin."));
    expect(resident.length).toBeGreaterThan(10);
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    );
    expect(documented).toEqual(
      resident.map(
        ([path, procedure]) =>
          `${procedure._def.type === "mutation" ? "post" : "get"} /trpc/${path}`,
      ),
    );
    expect(JSON.stringify(document)).not.toContain("/trpc/admin.");
  });

  test("a query with an input takes it as JSON in ?input=, a mutation as its JSON body", () => {
    const list = document.paths["/trpc/plates.list"]?.get;
    expect(list?.parameters).toEqual([
      expect.objectContaining({ name: "input", in: "query", required: true }),
    ]);
    expect(list?.parameters?.[0]?.content?.["application/json"]?.schema).toEqual({
      $ref: "#/components/schemas/PlatesListInput",
    });
    expect(list?.requestBody).toBeUndefined();
    const open = document.paths["/trpc/intercom.openDoor"]?.post;
    expect(open?.requestBody?.content["application/json"]?.schema).toEqual({
      $ref: "#/components/schemas/IntercomOpenDoorInput",
    });
    expect(document.paths["/trpc/devices.list"]?.get?.parameters).toBeUndefined();
  });

  test("a subscription is a GET answered with Server-Sent Events of its event", () => {
    const stream = document.paths["/trpc/events.onEvent"]?.get;
    expect(stream?.responses["200"]?.content?.["text/event-stream"]?.schema).toEqual({
      $ref: "#/components/schemas/EventsOnEventOutput",
    });
    const event = reader("EventsOnEventOutput");
    expect(
      event.safeParse({
        id: "jrn_0123456789abcdefghjk",
        seq: 42,
        kind: "call.incoming",
        deviceId: "door-a1",
        cameraId: "cam-a1",
        unitId: "unit-42",
        method: null,
        outcome: null,
        durationSeconds: null,
        occurredAt: "2026-01-01T00:00:00.000Z",
      }).success,
    ).toBe(true);
  });

  test("answers are { result: { data } }, errors the envelope with every cause.code", () => {
    for (const item of Object.values(document.paths)) {
      for (const op of Object.values(item)) {
        const content = op?.responses["200"]?.content;
        const output = {
          $ref: `#/components/schemas/${op?.operationId
            .split(".")
            .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
            .join("")}Output`,
        };
        if (content?.["text/event-stream"]) {
          // A subscription: each event's data.
          expect(content["text/event-stream"].schema).toEqual(output);
        } else {
          const ok = content?.["application/json"]?.schema as {
            properties: { result: { properties: { data: unknown } } };
          };
          expect(ok.properties.result.properties.data).toEqual(output);
        }
        expect(Object.keys(op?.responses ?? {})).toEqual(
          ["200", "400", "401", "403", "404", "405", "429", "500", "502", "503"].sort(),
        );
      }
    }
    const envelope = component("ErrorEnvelope") as {
      properties: {
        error: {
          properties: {
            data: { properties: { cause: { properties: { code: { enum: string[] } } } } };
          };
        };
      };
    };
    expect(envelope.properties.error.properties.data.properties.cause.properties.code.enum).toEqual(
      [...ERROR_CODES],
    );
  });

  test("inputs are strict, answers tolerant, and the examples pass their inputs' schemas", () => {
    const open = reader("IntercomOpenDoorInput");
    expect(open.safeParse({ deviceId: "door-a1" }).success).toBe(true);
    expect(open.safeParse({ deviceId: "door-a1", extra: 1 }).success).toBe(false);
    const devices = reader("DevicesListOutput");
    const device = { id: "door-a1", kind: "door", name: "A", siteId: "site-a" };
    expect(devices.safeParse([{ ...device, floor: 2 }]).success).toBe(true);
    expect(devices.safeParse([{ ...device, kind: "window" }]).success).toBe(false);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const op of Object.values(item)) {
        const media =
          op?.requestBody?.content["application/json"] ??
          op?.parameters?.[0]?.content?.["application/json"];
        if (!media) continue;
        const name = (media.schema.$ref as string).split("/").pop() ?? "";
        expect({ path, valid: reader(name).safeParse(media.example).success }).toEqual({
          path,
          valid: true,
        });
      }
    }
  });
});
