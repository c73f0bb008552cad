import { connect } from "node:tls";
import type { PartnerSettings } from "@propgate/config";
import { TRACING_OFF, type Tracing } from "@propgate/observability";
import { createPartnerFetch, createPartnerTokenSource, OPERATIONS } from "@propgate/partner-client";

/** What the probe checks of every partner. */
export const PROBE_CHECKS = ["token", "health", "certificate"] as const;
export type ProbeCheck = (typeof PROBE_CHECKS)[number];

export interface CheckResult {
  check: ProbeCheck;
  ok: boolean;
  seconds: number;
  /** Why it failed, in our words (never a body or a secret). */
  error: string | null;
}

export interface PartnerProbeResult {
  partner: string;
  results: CheckResult[];
  /** Seconds until the partner's TLS certificate expires; null over plain http (development). */
  certExpirySeconds: number | null;
}

/** One partner's checks, with its own transport (CA, client certificate) and timeout. */
export interface PartnerProbe {
  partner: string;
  run(): Promise<PartnerProbeResult>;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "TimeoutError" || error.name === "AbortError") return "timed out";
    return error.message.slice(0, 200);
  }
  return "failed";
}

/** One check, timed, in a span of its own (`probe.token` …) that says whether it passed. */
function timed(
  tracing: Tracing,
  partner: string,
  check: ProbeCheck,
  run: () => Promise<void>,
): Promise<CheckResult> {
  return tracing.span(
    `probe.${check}`,
    { "propgate.partner": partner, "propgate.check": check },
    async (span) => {
      const started = performance.now();
      try {
        await run();
        span.setAttribute("propgate.outcome", "ok");
        return { check, ok: true, seconds: (performance.now() - started) / 1000, error: null };
      } catch (error) {
        span.setAttribute("propgate.outcome", "failed");
        return {
          check,
          ok: false,
          seconds: (performance.now() - started) / 1000,
          error: describeError(error),
        };
      }
    },
  );
}

/** Seconds until the certificate the partner presents expires (verified against its CA). */
function certificateExpiry(url: URL, options: { ca?: string; timeoutMs: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port || 443),
      servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname,
      ca: options.ca,
      rejectUnauthorized: true,
      // The certificate is what is checked; a partner that wants a client certificate may
      // refuse the handshake later, which is the health check's business.
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("timed out"));
    }, options.timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const certificate = socket.getPeerCertificate();
      socket.end();
      const validTo = Date.parse(certificate.valid_to);
      if (!Number.isFinite(validTo)) reject(new Error("the certificate has no expiry"));
      else resolve((validTo - Date.now()) / 1000);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * The probe of one partner: a client-credentials token with scope `health.read` (asked anew each
 * time, discovery included), `GET /v1/health` with it, and the TLS certificate's days left. Each
 * round is a trace (`probe <partner>`) with a span per check; the health request carries it.
 */
export function createPartnerProbe(
  settings: PartnerSettings,
  options: { timeoutMs: number; allowInsecureLoopback: boolean; tracing?: Tracing },
): PartnerProbe {
  const tracing = options.tracing ?? TRACING_OFF;
  const partner = settings.name;
  const fetch = createPartnerFetch(settings);
  const ca = settings.caFile ? Bun.file(settings.caFile).text() : Promise.resolve(undefined);
  return {
    partner: settings.name,
    run: () => tracing.span(`probe ${partner}`, { "propgate.partner": partner }, () => probeOnce()),
  };

  async function probeOnce(): Promise<PartnerProbeResult> {
    // A fresh source each round: the probe checks the endpoint, not a cached token.
    const tokens = createPartnerTokenSource(settings, {
      fetch,
      allowInsecureLoopback: options.allowInsecureLoopback,
      requestTimeoutMs: options.timeoutMs,
      backoffInitialMs: 0,
      backoffMaxMs: 0,
    });
    let token: string | null = null;
    const tokenCheck = await timed(tracing, partner, "token", async () => {
      token = await tokens.getToken(["health.read"]);
    });
    const healthCheck = await timed(tracing, partner, "health", async () => {
      if (!token) throw new Error("no token to ask with");
      const headers: Record<string, string> = {
        authorization: `Bearer ${token}`,
        accept: "application/json",
      };
      tracing.inject(headers);
      const response = await fetch(new URL(OPERATIONS.health.path, settings.baseUrl), {
        headers,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`answered ${response.status}`);
      let status: unknown;
      try {
        status = (JSON.parse(text) as { status?: unknown }).status;
      } catch {
        throw new Error("answered with something other than JSON");
      }
      if (status !== "ok") throw new Error("reports it is not ok");
    });
    let certExpirySeconds: number | null = null;
    const results = [tokenCheck, healthCheck];
    if (settings.baseUrl.protocol === "https:") {
      results.push(
        await timed(tracing, partner, "certificate", async () => {
          certExpirySeconds = await certificateExpiry(settings.baseUrl, {
            ca: await ca,
            timeoutMs: options.timeoutMs,
          });
          if (certExpirySeconds <= 0) throw new Error("the certificate has expired");
        }),
      );
    }
    return { partner, results, certExpirySeconds };
  }
}
