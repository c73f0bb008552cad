/**
 * Where one request's time went, for the `Server-Timing` response field (W3C Server Timing):
 * `audit` — waiting for the attempt rows to commit (the group commit, invariant 1); `partner`
 * — the partner's requests, from the committed row to the read answer (every attempt);
 * `gateway` — the rest of `total`, Propgate's own work (auth, limits, checks, the response).
 * Served outside production only (`createApp`'s `serverTiming`): an app developer or the bench
 * reads it, while a resident's app in production learns nothing about the partners' timing.
 */
export class RequestTiming {
  #audit = 0;
  #partner = 0;
  readonly #started = performance.now();

  /** Measures `work` as audit time. */
  async audit<T>(work: Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work;
    } finally {
      this.#audit += performance.now() - started;
    }
  }

  addPartner(ms: number): void {
    this.#partner += ms;
  }

  /** The field's value, the spans in milliseconds to the µs; `gateway` never below zero. */
  header(): string {
    const total = performance.now() - this.#started;
    const gateway = Math.max(0, total - this.#audit - this.#partner);
    const span = (name: string, ms: number, desc: string) =>
      `${name};dur=${ms.toFixed(3)};desc="${desc}"`;
    return [
      span("gateway", gateway, "Propgate's own work"),
      span("audit", this.#audit, "attempt rows committed"),
      span("partner", this.#partner, "partner requests"),
      span("total", total, "whole request"),
    ].join(", ");
  }
}
