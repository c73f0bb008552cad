import { RateLimitedError } from "../errors.ts";

/** The admin reads that walk the whole audit log: one of each at a time per instance. */
export type ExclusiveRead = "verify" | "export";

/** How admin reads are bounded on one instance (invariant 8): {@link createAdminReadLimits}. */
export interface AdminReadLimits {
  /** `statement_timeout` of the list pages and lookups (ADMIN_READ_STATEMENT_TIMEOUT_MS). */
  readStatementTimeoutMs: number;
  /** `statement_timeout` of an audit verify or export (ADMIN_AUDIT_STATEMENT_TIMEOUT_MS). */
  auditStatementTimeoutMs: number;
  /**
   * Runs `work` unless a read of `kind` already runs on this instance; then refuses at once with
   * a `RateLimitedError` (429) whose Retry-After is what the running one likely needs yet.
   */
  exclusive<T>(kind: ExclusiveRead, work: () => Promise<T>): Promise<T>;
}

const LABEL: Record<ExclusiveRead, string> = {
  verify: "an audit verify",
  export: "an audit export",
};

/** Retry-After when no run of the kind has finished yet: the page's client waits that long once. */
const UNKNOWN_REMAINING_SECONDS = 5;

export function createAdminReadLimits(settings: {
  readStatementTimeoutMs: number;
  auditStatementTimeoutMs: number;
  now?: () => number;
}): AdminReadLimits {
  const now = settings.now ?? Date.now;
  const running = new Map<ExclusiveRead, number>();
  const lastDurationMs = new Map<ExclusiveRead, number>();
  // At most the statement timeout: the running one ends by then, answered or cancelled.
  const longestSeconds = Math.max(1, Math.ceil(settings.auditStatementTimeoutMs / 1000));

  function remainingSeconds(kind: ExclusiveRead, startedAt: number): number {
    const last = lastDurationMs.get(kind);
    if (last === undefined) return Math.min(UNKNOWN_REMAINING_SECONDS, longestSeconds);
    const seconds = Math.ceil((last - (now() - startedAt)) / 1000);
    return Math.min(Math.max(seconds, 1), longestSeconds);
  }

  return {
    readStatementTimeoutMs: settings.readStatementTimeoutMs,
    auditStatementTimeoutMs: settings.auditStatementTimeoutMs,
    async exclusive(kind, work) {
      const startedAt = running.get(kind);
      if (startedAt !== undefined) {
        const seconds = remainingSeconds(kind, startedAt);
        throw new RateLimitedError(
          `${LABEL[kind]} is already running on this instance; try again in ${seconds} s`,
          seconds,
        );
      }
      const started = now();
      running.set(kind, started);
      try {
        return await work();
      } finally {
        running.delete(kind);
        lastDurationMs.set(kind, now() - started);
      }
    },
  };
}
