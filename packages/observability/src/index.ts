export { acceptOrCreateRequestId } from "./ids.ts";
export {
  createLogger,
  type LogDestination,
  type Logger,
  type LoggerOptions,
} from "./logger.ts";
export { createMetrics, type Metrics } from "./metrics.ts";
export { scrubText, scrubValue } from "./scrub.ts";
