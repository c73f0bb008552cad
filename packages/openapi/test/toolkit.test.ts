import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import {
  CLIENT_SECRET_BASIC,
  clientCredentialsScheme,
  committedDrift,
  componentSchemas,
  describeSchemas,
  jsonAnswer,
  type OpenApiDocument,
  openApiDocument,
  openApiJson,
  rateLimitHeaders,
  requiredBody,
  retryAfterSeconds,
  textHeader,
  writeDocument,
} from "../src/index.ts";
import { openApiProblems } from "../src/validate.ts";

const Greeting = z.strictObject({ text: z.string().max(10) });
const Answer = z.object({ id: z.string() });

function sample(): OpenApiDocument {
  const docs = describeSchemas((describe) => {
    describe(Greeting, "What the caller sends.");
    describe(Greeting.shape.text, "Some words.");
  });
  return openApiDocument({
    title: "Sample",
    description: "A sample.",
    servers: [{ url: "http://127.0.0.1", description: "Here." }],
    tags: { greetings: "Greetings.", other: "Other things." },
    paths: {
      "/greetings/{id}": {
        post: {
          operationId: "greetings.send",
          summary: "Send",
          description: "Sends one.",
          tags: ["greetings"],
          security: [{ oauth: ["greetings.send"] }],
          requestBody: requiredBody("The greeting.", "application/json", "Greeting"),
          responses: {
            "200": jsonAnswer("Sent.", "Answer", { "X-Request-Id": textHeader("The id.") }),
            "429": jsonAnswer("Too many.", "Answer", {
              "Retry-After": retryAfterSeconds("Seconds.", true),
              ...rateLimitHeaders({ limit: "Left.", policy: "Quota." }),
            }),
          },
        },
      },
    },
    schemas: componentSchemas({ Greeting: [Greeting, "output"], Answer: [Answer, "input"] }, docs),
    securitySchemes: {
      oauth: clientCredentialsScheme("Tokens.", { "greetings.send": "Send greetings." }),
      basic: CLIENT_SECRET_BASIC,
    },
  });
}

describe("a document built with the toolkit", () => {
  test("is valid OpenAPI 3.1, its keys in the committed order", async () => {
    const document = sample();
    expect(await openApiProblems(document)).toEqual([]);
    expect(Object.keys(document)).toEqual([
      "openapi",
      "info",
      "servers",
      "tags",
      "paths",
      "components",
    ]);
    expect(document.info).toEqual({ title: "Sample", version: "v1", description: "A sample." });
    expect(document.tags).toEqual([
      { name: "greetings", description: "Greetings." },
      { name: "other", description: "Other things." },
    ]);
  });

  test("schemas are strict for what is written, tolerant for what is read, and described", () => {
    const { Greeting: written, Answer: read } = sample().components.schemas;
    expect(written).toMatchObject({
      description: "What the caller sends.",
      additionalProperties: false,
      properties: { text: { type: "string", maxLength: 10, description: "Some words." } },
    });
    expect(read?.additionalProperties).toBeUndefined();
  });

  test("an answer names its headers before its body, and none when it has none", () => {
    expect(Object.keys(jsonAnswer("Sent.", "Answer", {}))).toEqual([
      "description",
      "headers",
      "content",
    ]);
    expect(jsonAnswer("Sent.", { type: "string" })).toEqual({
      description: "Sent.",
      content: { "application/json": { schema: { type: "string" } } },
    });
    const limited = sample().paths["/greetings/{id}"]?.post?.responses["429"]?.headers;
    expect(Object.keys(limited ?? {})).toEqual(["Retry-After", "RateLimit", "RateLimit-Policy"]);
    expect(limited?.["Retry-After"]).toEqual({
      description: "Seconds.",
      required: true,
      schema: { type: "string", pattern: "^[0-9]+$" },
    });
    expect(retryAfterSeconds("Seconds.")).not.toHaveProperty("required");
  });

  test("a request body names its component, or carries its own schema and example", () => {
    expect(sample().paths["/greetings/{id}"]?.post?.requestBody).toEqual({
      required: true,
      description: "The greeting.",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Greeting" } } },
    });
    const sdp = { schema: { type: "string" }, example: "v=0" };
    expect(requiredBody("An offer.", "application/sdp", sdp).content).toEqual({
      "application/sdp": sdp,
    });
  });

  test("the validator refuses a broken document, and a $ref to no schema", async () => {
    const broken = sample();
    Object.assign(broken.paths, { "/greetings/{id}": { post: { summary: 1 } } });
    expect(await openApiProblems(broken)).not.toEqual([]);
    const dangling = sample();
    delete dangling.components.schemas.Answer;
    expect(await openApiProblems(dangling)).toContain(
      "$ref #/components/schemas/Answer names no schema of the document",
    );
  });
});

test("the JSON text is what biome's formatter makes of it, so the files pass the lint", async () => {
  const text = openApiJson(sample());
  const root = join(import.meta.dir, "../../..");
  const biome = Bun.spawn(
    [join(root, "node_modules/.bin/biome"), "format", "--stdin-file-path=x.json"],
    {
      cwd: root,
      stdin: new TextEncoder().encode(text),
      stdout: "pipe",
    },
  );
  expect(await new Response(biome.stdout).text()).toBe(text);
  expect(await biome.exited).toBe(0);
  expect(text).toContain('        "tags": ["greetings"],\n');
  expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(sample())));
});

describe("the drift check", () => {
  const folder = mkdtempSync(join(tmpdir(), "openapi-"));

  test("is quiet when the committed file is what the generator writes", async () => {
    await writeDocument("sample.json", sample(), folder);
    expect(await Bun.file(join(folder, "sample.json")).text()).toBe(openApiJson(sample()));
    expect(await committedDrift("sample.json", sample(), folder)).toBeNull();
  });

  test("names the first stale line and the fix", async () => {
    await writeDocument("sample.json", sample(), folder);
    const changed = sample();
    changed.info.title = "Renamed";
    expect(await committedDrift("sample.json", changed, folder)).toBe(
      'docs/openapi/sample.json is stale from line 4 (committed "    \\"title\\": \\"Sample\\",", ' +
        'generated "    \\"title\\": \\"Renamed\\","): run `bun run openapi` and commit the result',
    );
  });

  test("says so when the file is missing", async () => {
    expect(await committedDrift("absent.json", sample(), folder)).toBe(
      "docs/openapi/absent.json is missing: run `bun run openapi` and commit the result",
    );
  });
});
