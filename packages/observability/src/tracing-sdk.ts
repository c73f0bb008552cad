import {
  type Context,
  context,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Tracing, TracingSettings } from "./tracing-contract.ts";

const propagator = new W3CTraceContextPropagator();
const headersGetter = {
  keys: (carrier: Headers) => [...carrier.keys()],
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
};

/** The error's type for a span: a domain error's code, else its class name; never its message. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(code)) return code;
  return error instanceof Error ? error.name.slice(0, 64) : typeof error;
}

function samplerOf(settings: TracingSettings): Sampler {
  const ratio = new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio;
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio });
  }
}

let contextManagerSet = false;

/**
 * The process's context manager: AsyncLocalStorage, which Bun implements, so the active span
 * follows a request through `await`s, tRPC's middlewares and the audit writer's promises.
 */
function useAsyncContext(): void {
  if (contextManagerSet) return;
  contextManagerSet = context.setGlobalContextManager(
    new AsyncLocalStorageContextManager().enable(),
  );
}

/**
 * Tracing on, through the OpenTelemetry SDK (`createTracing` loads this module only then). The
 * provider is the program's own (not the global one), so instances side by side in a test export
 * to their own receivers; only the context manager is the process's.
 */
export function sdkTracing(settings: TracingSettings, version: string): Tracing {
  useAsyncContext();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      ...settings.resourceAttributes,
      [ATTR_SERVICE_NAME]: settings.serviceName,
    }),
    sampler: samplerOf(settings),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: settings.endpoint.href }),
        scheduledDelayMillis: 1000,
      }),
    ],
  });
  const tracer: Tracer = provider.getTracer("propgate", version);
  const run = <T>(span: Span, work: (span: Span) => Promise<T>): Promise<T> =>
    work(span).then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        span.setAttribute("error.type", errorType(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw error;
      },
    );
  return {
    enabled: true,
    span: (name, attributes, work, kind = SpanKind.INTERNAL) =>
      tracer.startActiveSpan(name, { kind, attributes }, (span) => run(span, work)),
    leaf: (name, attributes, work) => run(tracer.startSpan(name, { attributes }), work),
    serverSpan(name, headers, attributes, work) {
      const parent: Context = propagator.extract(ROOT_CONTEXT, headers, headersGetter);
      return tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, parent, (span) =>
        run(span, work),
      );
    },
    traceId() {
      const spanContext = trace.getActiveSpan()?.spanContext();
      return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : null;
    },
    inject(headers) {
      propagator.inject(context.active(), headers, defaultTextMapSetter);
    },
    shutdown: () => provider.shutdown(),
    flush: () => provider.forceFlush(),
  };
}
