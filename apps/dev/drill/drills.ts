import type { AuditChainVerdict } from "@propgate/consent-audit";
import { type Load, outcomes, percentile, type Sample, startLoad } from "./load.ts";
import { type Rig, type RigOptions, startRig } from "./rig.ts";

/**
 * Fault drills under a steady load of door opens (issue 12): each starts a rig of its own,
 * breaks one part, and checks its rules. `bun run drill` runs them all; the important ones are
 * also tests (apps/dev/test/drills.e2e.test.ts).
 */
export interface Check {
  rule: string;
  pass: boolean;
  measured: string;
}

export interface DrillResult {
  name: string;
  did: string[];
  checks: Check[];
  pass: boolean;
}

export type DrillName =
  | "partner-kill"
  | "partner-hang"
  | "token-endpoint-down"
  | "postgres-restart"
  | "redis-stop"
  | "api-sigterm";

interface Drill {
  rig: RigOptions;
  run(rig: Rig, log: (line: string) => void): Promise<Check[]>;
}

const now = () => performance.now();
const between = (samples: readonly Sample[], from: number, to: number) =>
  samples.filter((s) => s.start >= from && s.start < to);
const fmt = (value: number, unit = "ms") => `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
/** The verifier's clock an hour on: a chain not closed by then has gone quiet for good. */
const anHourOn = () => new Date(Date.now() + 3_600_000);
const verdictText = (verdict: AuditChainVerdict) =>
  verdict.ok
    ? `intact: ${verdict.count} rows, ${verdict.checkpoints ?? 0} signed checkpoints`
    : verdict.reason;
const check = (rule: string, pass: boolean, measured: string): Check => ({ rule, pass, measured });

/** The first sample that started at or after `from` and succeeded, or null. */
function firstSuccess(samples: readonly Sample[], from: number): Sample | null {
  return (
    samples
      .filter((s) => s.start >= from && s.outcome === "ok")
      .sort((a, b) => a.start - b.start)[0] ?? null
  );
}

/** Polls `probe` every `everyMs` until `stop()`; keeps (time, value). */
function sampler<T>(probe: () => Promise<T>, everyMs = 100) {
  const seen: Array<{ at: number; value: T }> = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const at = now();
      const value = await probe();
      seen.push({ at, value });
      await Bun.sleep(everyMs);
    }
  })();
  return {
    seen,
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  const started = now();
  while (now() - started < timeoutMs) {
    if (await check().catch(() => false)) return now();
    await Bun.sleep(50);
  }
  return null;
}

const readyz = (rig: Rig) => async () =>
  fetch(`${rig.api.url}/readyz`).then(
    (answer) => answer.status,
    () => 0,
  );

const warm = async (load: Load, ms = 2000) => {
  await Bun.sleep(ms);
  return outcomes(load.samples);
};

const DRILLS: Record<DrillName, Drill> = {
  "partner-kill": {
    rig: {},
    async run(rig, log) {
      const load = startLoad(rig.api.url, rig.residents);
      const before = await warm(load);
      log(`warm: ${JSON.stringify(before)}`);
      const killedAt = now();
      await rig.sim.kill();
      log("partner killed (SIGKILL)");
      const breaker = await waitFor(
        async () =>
          (await rig.api.metric("propgate_partner_circuit_open", 'partner="intercom"')) === 1,
        10_000,
      );
      await Bun.sleep(3000);
      const restartedAt = now();
      await rig.sim.start();
      log("partner restarted with new signing keys");
      const recovered = await waitFor(
        async () => firstSuccess(load.samples, restartedAt) !== null,
        20_000,
      );
      await Bun.sleep(1500);
      const samples = await load.stop();
      const down = between(samples, breaker ?? killedAt, restartedAt);
      const downOutcomes = outcomes(down);
      const after = between(samples, (recovered ?? restartedAt) + 500, Number.POSITIVE_INFINITY);
      return [
        check(
          "the breaker opens once the partner is gone",
          breaker !== null,
          breaker === null ? "never" : `${fmt(breaker - killedAt)} after the kill`,
        ),
        check(
          "while it is gone: PARTNER_UNAVAILABLE, p99 < 100 ms once the breaker is open",
          down.length > 0 &&
            (downOutcomes.PARTNER_UNAVAILABLE ?? 0) === down.length &&
            percentile(down, 99) < 100,
          `${down.length} answers ${JSON.stringify(downOutcomes)}, p50 ${fmt(percentile(down, 50))}, p99 ${fmt(percentile(down, 99))}`,
        ),
        check(
          "recovers without restarting the api (new keys: one token replay), within 15 s",
          recovered !== null && recovered - restartedAt < 15_000,
          recovered === null
            ? "no success within 20 s"
            : `first success ${fmt(recovered - restartedAt)} after the restart`,
        ),
        check(
          "after recovery the opens succeed",
          after.length > 0 && (outcomes(after).ok ?? 0) >= after.length * 0.95,
          JSON.stringify(outcomes(after)),
        ),
      ];
    },
  },

  "partner-hang": {
    rig: { env: { PARTNER_INTERCOM_TIMEOUT_MS: "1500" } },
    async run(rig, log) {
      const timeoutMs = 1500;
      const load = startLoad(rig.api.url, rig.residents);
      await warm(load);
      const rssBefore = rig.api.rssMb();
      const hungAt = now();
      await rig.sim.faults({ responseMode: "hang" });
      log("partner hangs every call");
      await Bun.sleep(8000);
      const rssDuring = rig.api.rssMb();
      await rig.sim.faults({ responseMode: "normal" });
      const resumedAt = now();
      log("partner answers again");
      const recovered = await waitFor(
        async () => firstSuccess(load.samples, resumedAt) !== null,
        20_000,
      );
      await Bun.sleep(1000);
      const maxOutstanding = load.maxOutstanding;
      const samples = await load.stop();
      const hung = between(samples, hungAt, resumedAt);
      const slowest = Math.max(0, ...hung.map((s) => s.end - s.start));
      // Requests outstanding at once can be no more than the rate times the timeout (and slack).
      const bound = Math.ceil(40 * (timeoutMs / 1000) * 1.5) + 10;
      return [
        check(
          `every answer within the timeout (${timeoutMs} ms, +500 ms)`,
          hung.length > 0 && slowest <= timeoutMs + 500,
          `${hung.length} answers ${JSON.stringify(outcomes(hung))}, slowest ${fmt(slowest)}`,
        ),
        check(
          `in-flight requests bounded (≤ ${bound})`,
          maxOutstanding <= bound && load.skipped === 0,
          `at most ${maxOutstanding} outstanding, ${load.skipped} skipped`,
        ),
        check(
          "no memory growth (RSS + < 40 MB over 8 s of hanging)",
          rssDuring - rssBefore < 40,
          `RSS ${rssBefore.toFixed(0)} → ${rssDuring.toFixed(0)} MB`,
        ),
        check(
          "recovers when the partner answers again, within 15 s",
          recovered !== null && recovered - resumedAt < 15_000,
          recovered === null ? "no success" : `${fmt(recovered - resumedAt)}`,
        ),
      ];
    },
  },

  "token-endpoint-down": {
    rig: { tokenLifetimeSeconds: 6 },
    async run(rig, log) {
      const lifetimeMs = 6000;
      const load = startLoad(rig.api.url, rig.residents);
      await warm(load, 2500);
      const downAt = now();
      await rig.sim.faults({ tokenEndpointDown: true });
      log("token endpoint down (503)");
      await Bun.sleep(lifetimeMs * 2);
      await rig.sim.faults({ tokenEndpointDown: false });
      const upAt = now();
      log("token endpoint back");
      const recovered = await waitFor(
        async () => firstSuccess(load.samples, upAt) !== null,
        20_000,
      );
      await Bun.sleep(1000);
      const samples = await load.stop();
      const early = between(samples, downAt, downAt + 1500);
      const expired = between(samples, downAt + lifetimeMs + 1000, upAt);
      return [
        check(
          "the cached token is used until it expires",
          early.length > 0 && (outcomes(early).ok ?? 0) === early.length,
          `first 1.5 s after the outage: ${JSON.stringify(outcomes(early))}`,
        ),
        check(
          "after expiry: PARTNER_UNAVAILABLE, nothing sent without a token",
          expired.length > 0 && (outcomes(expired).PARTNER_UNAVAILABLE ?? 0) === expired.length,
          `${JSON.stringify(outcomes(expired))} from ${lifetimeMs + 1000} ms after the outage`,
        ),
        check(
          "recovers when the endpoint returns, within 12 s (the token source retries at most 10 s apart)",
          recovered !== null && recovered - upAt < 12_000,
          recovered === null ? "no success" : `${fmt(recovered - upAt)}`,
        ),
      ];
    },
  },

  "postgres-restart": {
    rig: {},
    async run(rig, log) {
      const load = startLoad(rig.api.url, rig.residents);
      await warm(load);
      const ready = sampler(readyz(rig));
      await rig.pg.stop();
      const downFrom = now();
      log("PostgreSQL stopped");
      await Bun.sleep(3000);
      const downTo = now();
      await rig.pg.start();
      const startedAt = now();
      log("PostgreSQL started");
      const recovered = await waitFor(
        async () => firstSuccess(load.samples, startedAt) !== null,
        30_000,
      );
      await Bun.sleep(1500);
      const seen = await ready.stop();
      const samples = await load.stop();
      // Let the answers' rows of the last calls reach the database.
      await Bun.sleep(500);
      const { requests, responses } = await rig.auditCounts();
      const sent = await rig.sim.opens();
      // Stopped, every chain ends in a closing checkpoint: the one the outage cut off included.
      rig.api.signal("SIGTERM");
      await rig.api.exited;
      const ends = await rig.auditVerify(anHourOn());
      const redWhileDown = seen.some((s) => s.at > downFrom && s.at < startedAt && s.value === 503);
      const greenAfter = seen
        .filter((s) => s.at > (recovered ?? startedAt))
        .every((s) => s.value === 200);
      // Requests sent while the server was fully down (not while it was shutting down).
      const down = between(samples, downFrom, downTo);
      return [
        check(
          "no partner request without its audit row",
          requests >= sent && sent > 0,
          `the partner received ${sent} opens; ${requests} partner.request rows (${responses} answers)`,
        ),
        check(
          "after the outage and a stop, `audit verify` with the key an hour on: every chain closed",
          ends.ok,
          verdictText(ends),
        ),
        check(
          "/readyz red while the database is down, green again after",
          redWhileDown && greenAfter,
          `${seen.filter((s) => s.value === 503).length} × 503 of ${seen.length} probes`,
        ),
        check(
          "no open succeeds while the database is down: an answer waits for its committed row",
          down.length > 0 &&
            down.every((sample) => sample.outcome !== "ok" || sample.end >= downTo),
          `sent while it was down: ${JSON.stringify(outcomes(down))}; every ok answered after the restart`,
        ),
        check(
          "while it is down a resident is told UNAVAILABLE (503, Retry-After: 2), never INTERNAL",
          down.some((sample) => sample.outcome === "UNAVAILABLE") &&
            down.every(
              (sample) =>
                (sample.outcome === "ok" && sample.end >= downTo) ||
                (sample.outcome === "UNAVAILABLE" &&
                  sample.status === 503 &&
                  sample.retryAfter === "2"),
            ),
          JSON.stringify(outcomes(down)),
        ),
        check(
          "the api recovers by itself, within 15 s",
          recovered !== null && recovered - startedAt < 15_000,
          recovered === null ? "no success" : `${fmt(recovered - startedAt)} after the restart`,
        ),
      ];
    },
  },

  "redis-stop": {
    rig: { redis: true },
    async run(rig, log) {
      const redis = rig.redis;
      if (!redis) throw new Error("the redis drill needs a rig with Redis");
      const load = startLoad(rig.api.url, rig.residents);
      await warm(load);
      const upBefore = await rig.api.metric("propgate_rate_limit_backend_up");
      const stoppedAt = now();
      await redis.stop();
      log("Redis stopped");
      const downSeen = await waitFor(
        async () => (await rig.api.metric("propgate_rate_limit_backend_up")) === 0,
        10_000,
      );
      await Bun.sleep(2000);
      await redis.start();
      const startedAt = now();
      log("Redis started");
      const upAgain = await waitFor(
        async () => (await rig.api.metric("propgate_rate_limit_backend_up")) === 1,
        30_000,
      );
      await Bun.sleep(1000);
      const samples = await load.stop();
      const down = between(samples, stoppedAt, startedAt);
      return [
        check("shared counts in Redis before", upBefore === 1, `backend_up ${upBefore}`),
        check(
          "propgate_rate_limit_backend_up 0 while Redis is down",
          downSeen !== null,
          downSeen === null ? "never 0" : `0 ${fmt(downSeen - stoppedAt)} after the stop`,
        ),
        check(
          "local limits take over: the opens go on",
          down.length > 0 && (outcomes(down).ok ?? 0) >= down.length * 0.95,
          JSON.stringify(outcomes(down)),
        ),
        check(
          "back to shared counts when it returns",
          upAgain !== null,
          upAgain === null
            ? "still 0 after 30 s"
            : `1 again ${fmt(upAgain - startedAt)} after the start`,
        ),
      ];
    },
  },

  "api-sigterm": {
    rig: { env: { SHUTDOWN_DRAIN_MS: "1500", SHUTDOWN_GRACE_MS: "8000" } },
    async run(rig, log) {
      const graceMs = 8000;
      const drainMs = 1500;
      // Slow partner answers, so requests are in flight when the signal comes.
      await rig.sim.faults({ latencyMs: 400 });
      const load = startLoad(rig.api.url, rig.residents, { ratePerSecond: 30 });
      await warm(load);
      const ready = sampler(readyz(rig), 50);
      const signalledAt = now();
      rig.api.signal("SIGTERM");
      log("api sent SIGTERM");
      const code = await rig.api.exited;
      const exitedAt = now();
      await Bun.sleep(300);
      const seen = await ready.stop();
      const samples = await load.stop();
      const { requests, responses } = await rig.auditCounts();
      const sent = await rig.sim.opens();
      const ends = await rig.auditVerify(anHourOn());
      const inFlight = samples.filter((s) => s.start < signalledAt && s.end > signalledAt);
      const firstRed = seen.find((s) => s.at > signalledAt && s.value === 503);
      const late = between(samples, signalledAt + drainMs + 300, Number.POSITIVE_INFINITY);
      return [
        check(
          "/readyz 503 first, so a load balancer drains the instance",
          firstRed !== undefined && firstRed.at - signalledAt < 300,
          firstRed ? `503 ${fmt(firstRed.at - signalledAt)} after the signal` : "never 503",
        ),
        check(
          "requests in flight at the signal finish",
          inFlight.length > 0 && inFlight.every((s) => s.outcome === "ok"),
          `${inFlight.length} in flight: ${JSON.stringify(outcomes(inFlight))}`,
        ),
        check(
          "new requests after the drain are refused",
          late.length > 0 && late.every((s) => s.outcome === "network"),
          JSON.stringify(outcomes(late)),
        ),
        check(
          `exits 0 within SHUTDOWN_GRACE_MS (${graceMs} ms)`,
          code === 0 && exitedAt - signalledAt < graceMs,
          `exit ${code} after ${fmt(exitedAt - signalledAt)}`,
        ),
        check(
          "no audit row lost: a request row for every request sent, an answer row for every answer",
          requests >= sent && responses >= sent && sent > 0,
          `the partner received ${sent}; ${requests} request rows, ${responses} answer rows`,
        ),
        check(
          "its audit chains end in closing checkpoints: `audit verify` with the key an hour on",
          ends.ok,
          verdictText(ends),
        ),
      ];
    },
  },
};

export const DRILL_NAMES = Object.keys(DRILLS) as DrillName[];

export async function runDrill(
  name: DrillName,
  log: (line: string) => void = () => {},
): Promise<DrillResult> {
  const drill = DRILLS[name];
  const rig = await startRig(drill.rig);
  const did: string[] = [];
  try {
    const checks = await drill.run(rig, (line) => {
      did.push(line);
      log(`[${name}] ${line}`);
    });
    return { name, did, checks, pass: checks.every((c) => c.pass) };
  } finally {
    await rig.close();
  }
}
