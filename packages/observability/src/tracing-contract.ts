import type { Attributes, Span, SpanKind } from "@opentelemetry/api";
import type { TracingEnvSettings } from "@propgate/config";

/** Tracing of one program, from the `OTEL_*` variables (`@propgate/config`'s `tracingSettings`). */
export type TracingSettings = TracingEnvSettings;

/**
 * Spans of one program. Off (`TRACING_OFF`), every method runs its work directly: no span, no
 * context switch, no id. On, spans nest by the active context (AsyncLocalStorage), carry only the
 * attributes their callers give — opaque ids and codes, never personal data (invariant 4) — and go
 * out in batches over OTLP/HTTP.
 */
export interface Tracing {
  readonly enabled: boolean;
  /**
   * `work` inside a span, a child of the active one; ended when `work` settles, marked as an
   * error (its type only, never its message) when it throws.
   */
  span<T>(
    name: string,
    attributes: Attributes,
    work: (span: Span) => Promise<T>,
    kind?: SpanKind,
  ): Promise<T>;
  /**
   * As `span`, for work that starts no span of its own and sends no request: the span is not made
   * the active one, which spares a context switch per span (most of tracing's cost under Bun).
   */
  leaf<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T>;
  /** A server span, the child of the caller's W3C `traceparent`/`tracestate` when sent. */
  serverSpan<T>(
    name: string,
    headers: Headers,
    attributes: Attributes,
    work: (span: Span) => Promise<T>,
  ): Promise<T>;
  /** The active trace's id (32 hex), or null outside a trace and when off. */
  traceId(): string | null;
  /** Writes `traceparent` (and `tracestate`) of the active span into `headers`. */
  inject(headers: Record<string, string>): void;
  /** Sends what is buffered (SIGTERM, a test's read) and stops; later spans are dropped. */
  shutdown(): Promise<void>;
  /** Sends what is buffered now. */
  flush(): Promise<void>;
}
