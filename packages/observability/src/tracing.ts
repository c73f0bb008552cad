import {
  type Attributes,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { Tracing, TracingSettings } from "./tracing-contract.ts";

export type { Tracing, TracingSettings } from "./tracing-contract.ts";
export { type Attributes as SpanAttributes, type Span, SpanKind, SpanStatusCode };

/** A span that records nothing, for work run untraced. */
const UNTRACED: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

export const TRACING_OFF: Tracing = {
  enabled: false,
  span: (_name, _attributes, work) => work(UNTRACED),
  leaf: (_name, _attributes, work) => work(UNTRACED),
  serverSpan: (_name, _headers, _attributes, work) => work(UNTRACED),
  traceId: () => null,
  inject: () => {},
  shutdown: async () => {},
  flush: async () => {},
};

/**
 * Tracing of one program (an api instance, the health probe), or `TRACING_OFF` without
 * settings. The SDK and its exporter are loaded only when tracing is on: a program that does not
 * trace carries none of them (about 12 MB of a process's memory).
 */
export async function createTracing(
  settings: TracingSettings | null,
  version = "0",
): Promise<Tracing> {
  if (!settings) return TRACING_OFF;
  const { sdkTracing } = await import("./tracing-sdk.ts");
  return sdkTracing(settings, version);
}
