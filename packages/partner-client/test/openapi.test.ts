import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  committedDrift,
  type JsonSchema,
  type OpenApiDocument,
  type OpenApiOperation,
  openApiJson,
} from "@propgate/openapi";
import { openApiProblems } from "@propgate/openapi/validate";
import { z } from "zod";
import {
  barrierOperations,
  type CallRequest,
  ERASURE_CATEGORIES,
  facesOperations,
  intercomOperations,
  keysOperations,
  OPERATIONS,
  type OperationName,
  PARTNER_OPERATIONS,
  PARTNER_SCOPES,
  type PartnerClient,
  platesOperations,
  subjectOperations,
  videoOperations,
} from "../src/index.ts";
import { partnerApiDocument } from "../src/openapi/index.ts";

const document = partnerApiDocument();

/** The operation named `operationId`, with its path and method. */
function find(doc: OpenApiDocument, operationId: string) {
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation?.operationId === operationId) return { path, method, operation };
    }
  }
  throw new Error(`the document has no operation ${operationId}`);
}

function component(name: string): JsonSchema {
  const schema = document.components.schemas[name];
  if (!schema) throw new Error(`no component schema ${name}`);
  return schema;
}

/** The zod schema a JSON Schema of the document stands for, to try bodies against. */
function reader(name: string) {
  return z.fromJSONSchema(component(name) as Parameters<typeof z.fromJSONSchema>[0]);
}

describe("docs/openapi/partner-api.json", () => {
  test("is what the generator writes now", async () => {
    expect(await committedDrift("partner-api.json", document)).toBeNull();
  });

  test("is a valid OpenAPI 3.1 document, and the validator does refuse a broken one", async () => {
    expect(await openApiProblems(document)).toEqual([]);

    // A parameter "in" the body is OpenAPI 2, not 3.1.
    const broken = structuredClone(document);
    const parameter = find(broken, "intercom.open").operation.parameters?.[0];
    if (parameter) Object.assign(parameter, { in: "body" });
    expect(await openApiProblems(broken)).not.toEqual([]);
  });

  test("every $ref points at a schema the document has", () => {
    const refs = [...openApiJson(document).matchAll(/"\$ref": "([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      expect(ref).toStartWith("#/components/schemas/");
      component(ref?.slice("#/components/schemas/".length) ?? "");
    }
  });
});

describe("the partner API document", () => {
  test("has every operation of OPERATIONS at its path and method, with its one scope", () => {
    for (const name of PARTNER_OPERATIONS) {
      const spec = OPERATIONS[name];
      const { path, method, operation } = find(document, name);
      expect({ name, method }).toEqual({ name, method: spec.method.toLowerCase() });
      expect({ name, path }).toEqual({ name, path: spec.path });
      const parameters = operation.parameters?.filter((param) => param.in === "path") ?? [];
      expect({ name, parameters: parameters.map((param) => param.name) }).toEqual({
        name,
        parameters: [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((match) => match[1] ?? ""),
      });
      expect({ name, security: operation.security }).toEqual({
        name,
        security: [{ partnerOAuth: [spec.scope] }],
      });
      expect(operation.description).toContain(`Scope \`${spec.scope}\``);
    }
    const flows = document.components.securitySchemes.partnerOAuth as {
      flows: { clientCredentials: { tokenUrl: string; scopes: Record<string, string> } };
    };
    expect(Object.keys(flows.flows.clientCredentials.scopes)).toEqual([...PARTNER_SCOPES]);
  });

  test("every operation says what 401, 429 and 503 do, with Retry-After on the last two", () => {
    for (const name of PARTNER_OPERATIONS) {
      const { responses } = find(document, name).operation;
      expect(Object.keys(responses)).toEqual(expect.arrayContaining(["401", "429", "503"]));
      expect(responses["429"]?.headers?.["Retry-After"]).toBeDefined();
      expect(responses["503"]?.headers?.["Retry-After"]).toBeDefined();
      expect(responses.default?.content?.["application/json"]?.schema).toEqual({
        $ref: "#/components/schemas/PartnerErrorBody",
      });
    }
  });

  test("the video session: SDP both ways, Location required, Link and X-Session-Expires-At", () => {
    const create = find(document, "video.create_session").operation;
    expect(Object.keys(create.requestBody?.content ?? {})).toEqual(["application/sdp"]);
    const created = create.responses["201"];
    expect(Object.keys(created?.content ?? {})).toEqual(["application/sdp"]);
    expect(created?.headers?.Location?.required).toBe(true);
    expect(created?.headers?.Location?.description).toContain("any path on your origin");
    expect(created?.headers?.Link?.description).toContain('rel="ice-server"');
    expect(created?.headers?.["X-Session-Expires-At"]?.required).toBeUndefined();
    const ended = find(document, "video.end_session").operation.responses;
    expect(Object.keys(ended)).toEqual(expect.arrayContaining(["200", "204", "404", "410"]));
  });

  test("erasure: 200 with the counts, 202 accepted, 204 done; categories from the vocabulary", () => {
    const erase = find(document, "subjects.erase").operation;
    expect(erase.responses["200"]?.content?.["application/json"]?.schema).toEqual({
      $ref: "#/components/schemas/ErasureResponse",
    });
    expect(erase.responses["202"]).toBeDefined();
    expect(erase.responses["204"]).toBeDefined();
    const categories = erase.parameters?.find((param) => param.name === "categories");
    expect(categories).toMatchObject({
      in: "query",
      required: true,
      style: "form",
      explode: false,
    });
    expect(categories?.schema).toMatchObject({ items: { enum: [...ERASURE_CATEGORIES] } });
  });

  test("opens take 200 or 201, and need an Idempotency-Key", () => {
    for (const name of ["intercom.open", "barrier.open"] as const) {
      const open = find(document, name).operation;
      expect(Object.keys(open.responses)).toEqual(expect.arrayContaining(["200", "201"]));
      const key = open.parameters?.find((param) => param.name === "Idempotency-Key");
      expect(key).toMatchObject({ in: "header", required: true });
    }
  });

  test("requests are strict, answers tolerant: the schemas mean what the contract means", () => {
    const subject = "a".repeat(43);
    const openRequest = reader("OpenRequest");
    expect(openRequest.safeParse({ subject }).success).toBe(true);
    expect(openRequest.safeParse({ subject, name: "Ivan" }).success).toBe(false);

    const openResponse = reader("OpenResponse");
    const answer = { eventId: "e1", openedAt: "2026-05-01T10:00:00+03:00" };
    expect(openResponse.safeParse({ ...answer, door: "left" }).success).toBe(true);
    expect(openResponse.safeParse({ eventId: "e1" }).success).toBe(false);

    expect(reader("AddPlateRequest").safeParse({ subject, plate: "A123BC77" }).success).toBe(true);
    expect(reader("AddPlateRequest").safeParse({ subject, plate: "А123ВС77" }).success).toBe(false);
    expect(reader("ErasureResponse").safeParse({ erased: { faces: 2 } }).success).toBe(true);
    expect(reader("PartnerErrorBody").safeParse({ message: "no code" }).success).toBe(false);
  });
});

test("docs/partner-onboarding.md's scope table has every operation, its request and scope", async () => {
  const guide = await Bun.file(join(import.meta.dir, "../../../docs/partner-onboarding.md")).text();
  for (const name of PARTNER_OPERATIONS) {
    const { path, method } = find(document, name);
    const row = guide.split("\n").find((line) => line.startsWith(`| \`${name}\` `)) ?? "";
    expect({ name, row }).toEqual({
      name,
      row: expect.stringContaining(`\`${method.toUpperCase()} ${path}\``),
    });
    expect(row).toContain(`| \`${OPERATIONS[name].scope}\` `);
  }
});

describe("the document matches what the adapters send", () => {
  const recorded: CallRequest<unknown>[] = [];
  const client: PartnerClient = {
    name: "recording",
    isAvailable: () => true,
    call: async <T>(request: CallRequest<T>) => {
      recorded.push(request as CallRequest<unknown>);
      return undefined as T;
    },
  };

  test("query parameters, Idempotency-Key and the body's media type, per operation", async () => {
    const subject = "a".repeat(43);
    await intercomOperations(client).openDoor({
      partnerDeviceId: "door-1",
      subject,
      idempotencyKey: "key-0001",
    });
    await barrierOperations(client).openGate({
      partnerDeviceId: "gate-1",
      subject,
      idempotencyKey: "key-0002",
    });
    const video = videoOperations(client);
    await video.createSession({ cameraId: "cam-1", offerSdp: "v=0\r\n" });
    await video.endSession({ sessionPath: null, partnerSessionId: "s1" });
    const plates = platesOperations(client);
    await plates.list({ siteId: "site-1", subject });
    await plates.add({ siteId: "site-1", subject, plate: "A123BC77" });
    await plates.remove({ siteId: "site-1", plateId: "p1", subject });
    const faces = facesOperations(client);
    await faces.list({ subject });
    await faces.enroll({ subject, imageBase64: "/9j/4AAQ" });
    await faces.remove({ faceId: "f1", subject });
    const keys = keysOperations(client);
    await keys.create({
      siteId: "site-1",
      subject,
      devices: ["door-1", "door-2"],
      validFrom: "2031-03-01T10:00:00.000Z",
      validUntil: "2031-03-01T12:00:00.000Z",
      idempotencyKey: "key-0003",
    });
    await keys.list({ siteId: "site-1", subject });
    await keys.delete({ keyId: "k1", subject });
    await subjectOperations(client).erase({ subject, categories: ["plates", "faces"] });
    await subjectOperations(client).erasureStatus({ subject });

    const sent = new Set<OperationName>(recorded.map((request) => request.operation));
    // Health is sent by the health probe, not by an adapter.
    expect([...sent].sort()).toEqual(PARTNER_OPERATIONS.filter((n) => n !== "health").sort());
    for (const request of recorded) {
      const operation: OpenApiOperation = find(document, request.operation).operation;
      const documented = (where: string) =>
        (operation.parameters ?? []).filter((p) => p.in === where).map((p) => p.name);
      const name = request.operation;
      expect({ name, query: documented("query") }).toEqual({
        name,
        query: Object.keys(request.query ?? {}),
      });
      expect({ name, headers: documented("header") }).toEqual({
        name,
        headers: request.idempotencyKey ? ["Idempotency-Key"] : [],
      });
      const media =
        request.sdp !== undefined
          ? ["application/sdp"]
          : request.body !== undefined
            ? ["application/json"]
            : [];
      expect({ name, media: Object.keys(operation.requestBody?.content ?? {}) }).toEqual({
        name,
        media,
      });
    }
  });
});
