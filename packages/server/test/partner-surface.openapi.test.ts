import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type DatabaseHandle, openDatabase } from "@propgate/consent-audit";
import { PARTNER_EVENT_TYPES, PartnerEvent, SURFACE_SCOPES } from "@propgate/domain";
import { createLogger, createMetrics } from "@propgate/observability";
import { committedDrift, type JsonSchema } from "@propgate/openapi";
import { openApiProblems } from "@propgate/openapi/validate";
import { z } from "zod";
import { parseCidrList } from "../src/net/cidr.ts";
import { DENY_REASONS } from "../src/partner-surface/access-checks.ts";
import { partnerSurfaceDocument } from "../src/partner-surface/openapi.ts";
import { createPartnerSurface } from "../src/partner-surface/surface.ts";

const document = partnerSurfaceDocument();

/** The zod schema a component of the document stands for, to try real answers against. */
function reader(name: string) {
  const schema: JsonSchema | undefined = document.components.schemas[name];
  if (!schema) throw new Error(`no component schema ${name}`);
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
}

describe("docs/openapi/partner-surface.json", () => {
  test("is what the generator writes now", async () => {
    expect(await committedDrift("partner-surface.json", document)).toBeNull();
  });

  test("is a valid OpenAPI 3.1 document", async () => {
    expect(await openApiProblems(document)).toEqual([]);
  });
});

describe("the partner surface document", () => {
  test("has the token endpoint and one route per surface scope", () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, security: op?.security })),
    );
    expect(operations).toEqual([
      { path: "/oauth/token", method: "post", security: [{ clientSecretBasic: [] }, {}] },
      {
        path: "/partner/v1/access-checks",
        method: "post",
        security: [{ surfaceOAuth: ["access.check"] }],
      },
      {
        path: "/partner/v1/events",
        method: "post",
        security: [{ surfaceOAuth: ["events.write"] }],
      },
    ]);
    const oauth = document.components.securitySchemes.surfaceOAuth as {
      flows: { clientCredentials: { scopes: Record<string, string> } };
    };
    expect(Object.keys(oauth.flows.clientCredentials.scopes)).toEqual([...SURFACE_SCOPES]);
  });

  test("names every deny reason, and says what each means", () => {
    const answer = document.components.schemas.AccessCheckResponse as {
      properties: { reason: { enum: string[]; description: string } };
    };
    expect(answer.properties.reason.enum).toEqual([...DENY_REASONS]);
    for (const reason of DENY_REASONS)
      expect(answer.properties.reason.description).toContain(reason);
  });

  test("requests are strict: an unknown field is refused", () => {
    const request = { subject: "a".repeat(43), deviceId: "door-1", method: "key" };
    expect(reader("AccessCheckRequest").safeParse(request).success).toBe(true);
    expect(reader("AccessCheckRequest").safeParse({ ...request, name: "x" }).success).toBe(false);
  });

  test("every event type has a documented shape and an example the surface accepts", () => {
    const request = document.components.schemas.PartnerEventRequest as {
      oneOf: Array<{ $ref: string }>;
      discriminator: { mapping: Record<string, string> };
    };
    expect(Object.keys(request.discriminator.mapping).sort()).toEqual(
      [...PARTNER_EVENT_TYPES].sort(),
    );
    const body =
      document.paths["/partner/v1/events"]?.post?.requestBody?.content["application/json"];
    const examples = Object.values(body?.examples ?? {}).map((example) => example.value);
    const shown = new Set(examples.map((example) => (example as { type: string }).type));
    for (const type of ["call.incoming", "call.ended", "access.granted", "access.denied"])
      expect({ type, shown: shown.has(type) }).toEqual({ type, shown: true });
    for (const example of examples) {
      expect({ example, ours: PartnerEvent.safeParse(example).success }).toEqual({
        example,
        ours: true,
      });
      const type = (example as { type: string }).type;
      const shape = reader(String(request.discriminator.mapping[type]).split("/").at(-1) ?? "");
      expect({ example, documented: shape.safeParse(example).success }).toEqual({
        example,
        documented: true,
      });
      // strict: a plate beside the fields is refused by the documented shape too
      expect(shape.safeParse({ ...(example as object), plate: "A000BC799" }).success).toBe(false);
    }
  });
});

describe("the running surface answers as documented", () => {
  const client = { clientId: "ic-gateway", secret: `ic-secret-${crypto.randomUUID()}` };
  const inside = { peerAddress: "10.80.0.2" };
  let database: DatabaseHandle;
  let app: ReturnType<typeof createPartnerSurface>;

  beforeAll(async () => {
    // No request here reaches the database: any will do (PostgreSQL opens faster than PGlite).
    database = await openDatabase({ url: process.env.DATABASE_URL });
    app = createPartnerSurface(
      {
        database,
        logger: createLogger({ name: "test", level: "silent" }),
        metrics: createMetrics({ app: "test" }),
        instanceId: "test",
      },
      {
        allowedCidrs: parseCidrList("10.80.0.0/24"),
        clients: [
          {
            clientId: client.clientId,
            secretHash: await Bun.password.hash(client.secret, {
              algorithm: "argon2id",
              memoryCost: 4096,
              timeCost: 1,
            }),
            partner: "intercom",
            scopes: ["access.check"],
            addresses: parseCidrList("10.80.0.2/32"),
          },
        ],
        tokenTtlSeconds: 300,
        signingKey: null,
      },
    );
  });
  afterAll(() => database.close());

  function tokenRequest(secret: string) {
    return app.request(
      "/oauth/token",
      {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${btoa(`${client.clientId}:${secret}`)}`,
        },
        body: "grant_type=client_credentials&scope=access.check",
      },
      inside,
    );
  }

  function post(path: string, body: unknown, token?: string) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    return app.request(path, { method: "POST", headers, body: JSON.stringify(body) }, inside);
  }

  test("a token, and the token endpoint's errors", async () => {
    const granted = await tokenRequest(client.secret);
    expect(granted.status).toBe(200);
    expect(granted.headers.get("cache-control")).toBe("no-store");
    const token = await granted.json();
    expect(reader("TokenResponse").safeParse(token).success).toBe(true);

    const refused = await tokenRequest("wrong");
    expect(refused.status).toBe(401);
    expect(reader("OAuthErrorBody").safeParse(await refused.json()).success).toBe(true);
  });

  test("the bearer routes' 401, 403 and 400, and an unknown route's 404", async () => {
    const token = ((await (await tokenRequest(client.secret)).json()) as { access_token: string })
      .access_token;
    const errorBody = reader("SurfaceErrorBody");
    const check = { subject: "a".repeat(43), deviceId: "door-1", method: "key" };

    for (const path of ["/partner/v1/access-checks", "/partner/v1/events"]) {
      const anonymous = await post(path, check);
      expect({ path, status: anonymous.status }).toEqual({ path, status: 401 });
      expect(errorBody.safeParse(await anonymous.json()).success).toBe(true);
    }
    const withoutScope = await post("/partner/v1/events", check, token);
    expect(withoutScope.status).toBe(403);
    expect(await withoutScope.json()).toMatchObject({ error: { code: "INSUFFICIENT_SCOPE" } });

    const unknownField = await post("/partner/v1/access-checks", { ...check, name: "x" }, token);
    expect(unknownField.status).toBe(400);
    expect(errorBody.safeParse(await unknownField.json()).success).toBe(true);

    const nowhere = await post("/partner/v1/nowhere", {}, token);
    expect(nowhere.status).toBe(404);
    expect(errorBody.safeParse(await nowhere.json()).success).toBe(true);
  });
});
