export { acceptOrCreateRequestId } from "./ids.ts";
export {
  createLogger,
  type FlushableDestination,
  type LogDestination,
  type Logger,
  type LoggerOptions,
  stdoutByTurn,
} from "./logger.ts";
export { createMetrics, type Metrics } from "./metrics.ts";
export { scrubText, scrubValue } from "./scrub.ts";
export {
  createTracing,
  type Span,
  type SpanAttributes,
  SpanKind,
  SpanStatusCode,
  TRACING_OFF,
  type Tracing,
  type TracingSettings,
} from "./tracing.ts";
