import { z } from "zod";

/**
 * The OTLP/HTTP JSON encoding of `ExportTraceServiceRequest` (opentelemetry-proto's
 * `collector/trace/v1` and `trace/v1`, by the protobuf JSON mapping the exporter writes: ids as
 * hex, 64-bit integers as strings), checked strictly where a test reads it.
 */
const AnyValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.object({ stringValue: z.string() }),
    z.object({ boolValue: z.boolean() }),
    z.object({ intValue: z.union([z.string().regex(/^-?\d+$/), z.number().int()]) }),
    z.object({ doubleValue: z.number() }),
    z.object({ arrayValue: z.object({ values: z.array(AnyValue).optional() }) }),
    z.object({ kvlistValue: z.object({ values: z.array(KeyValue).optional() }) }),
    z.object({ bytesValue: z.string() }),
  ]),
);
const KeyValue = z.object({ key: z.string(), value: AnyValue });
const Hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
const Nanos = z.union([z.string().regex(/^\d+$/), z.number().int()]);

const OtlpSpan = z.object({
  traceId: Hex(16),
  spanId: Hex(8),
  parentSpanId: z.union([Hex(8), z.literal("")]).optional(),
  traceState: z.string().optional(),
  name: z.string().min(1),
  /** SPAN_KIND_INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5. */
  kind: z.number().int().min(0).max(5),
  startTimeUnixNano: Nanos,
  endTimeUnixNano: Nanos,
  attributes: z.array(KeyValue).default([]),
  events: z.array(z.object({ name: z.string(), attributes: z.array(KeyValue).default([]) })),
  status: z.object({
    code: z.number().int().min(0).max(2).optional(),
    message: z.string().optional(),
  }),
});

const ExportTraceServiceRequest = z.object({
  resourceSpans: z.array(
    z.object({
      resource: z.object({ attributes: z.array(KeyValue).default([]) }),
      scopeSpans: z.array(
        z.object({
          scope: z.object({ name: z.string(), version: z.string().optional() }),
          spans: z.array(OtlpSpan),
        }),
      ),
    }),
  ),
});

/** One received span, its attributes flattened to values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: "internal" | "server" | "client" | "producer" | "consumer" | "unspecified";
  service: string | null;
  attributes: Record<string, unknown>;
  /** 0 unset, 1 ok, 2 error. */
  status: number;
}

const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"] as const;

function attributeValue(value: unknown): unknown {
  const v = value as Record<string, unknown>;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  return v;
}

const flatten = (attributes: z.infer<typeof KeyValue>[]) =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, attributeValue(value)]));

export interface OtlpReceiver {
  /** `OTEL_EXPORTER_OTLP_ENDPOINT` for a program: the receiver's base URL. */
  url: string;
  spans: ReceivedSpan[];
  /** Every request body as received, for searches over all of it (the canary). */
  bodies: string[];
  /** Requests refused as not OTLP JSON (a test expects none). */
  refused: number;
  /** The spans of one trace, once `ready` holds of them (polled until a deadline). */
  trace(
    traceId: string,
    ready: (spans: ReceivedSpan[]) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedSpan[]>;
  stop(): Promise<void>;
}

/**
 * An OTLP/HTTP collector for tests and the bench: `POST /v1/traces` with a JSON
 * `ExportTraceServiceRequest`, decoded and kept; anything else is refused as a collector would.
 */
export function startOtlpReceiver(): OtlpReceiver {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const state = { refused: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (request.method !== "POST" || pathname !== "/v1/traces")
        return new Response("not found", { status: 404 });
      if (!request.headers.get("content-type")?.startsWith("application/json")) {
        state.refused += 1;
        return new Response("only OTLP JSON here", { status: 415 });
      }
      const text = await request.text();
      const parsed = ExportTraceServiceRequest.safeParse(JSON.parse(text));
      if (!parsed.success) {
        state.refused += 1;
        return Response.json({ error: parsed.error.issues[0]?.message }, { status: 400 });
      }
      bodies.push(text);
      for (const resource of parsed.data.resourceSpans) {
        const service = flatten(resource.resource.attributes)["service.name"];
        for (const scope of resource.scopeSpans) {
          for (const span of scope.spans) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ? span.parentSpanId : null,
              name: span.name,
              kind: KINDS[span.kind] ?? "unspecified",
              service: typeof service === "string" ? service : null,
              attributes: flatten(span.attributes),
              status: span.status.code ?? 0,
            });
          }
        }
      }
      // An empty ExportTraceServiceResponse: everything accepted.
      return Response.json({});
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    spans,
    bodies,
    get refused() {
      return state.refused;
    },
    async trace(traceId, ready, timeoutMs = 10_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = spans.filter((span) => span.traceId === traceId);
        if (ready(found)) return found;
        if (performance.now() > deadline)
          throw new Error(
            `trace ${traceId} not complete within ${timeoutMs} ms: ${found.map((s) => s.name).join(", ")}`,
          );
        await Bun.sleep(20); // a poll interval, not a wait for state
      }
    },
    async stop() {
      await server.stop(true);
    },
  };
}
