/** Resolves after `ms`, or as soon as one of `signals` aborts (the sim stopping, the client leaving). */
export function waitFor(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal.aborted)) return resolve();
    const done = () => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    for (const signal of signals) signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolves only when one of `signals` aborts. */
export function waitForAbort(...signals: AbortSignal[]): Promise<void> {
  return waitFor(Number.POSITIVE_INFINITY, ...signals);
}
