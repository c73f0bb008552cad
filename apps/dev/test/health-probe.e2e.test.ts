import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { migrateDatabase, openDatabase, partnerHealthReport } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { loadProbeEnv, type RunningProbe, startHealthProbe } from "@propgate/health-probe";
import { type PartnerSim, startPartnerSim } from "@propgate/partner-sim";
import {
  startThrowawayPostgres,
  throwawayPostgresUnavailable,
} from "../drill/throwaway-postgres.ts";
import { startOtlpReceiver } from "../src/testing/otlp-receiver.ts";

const noServer = throwawayPostgresUnavailable();
if (noServer && process.env.CI) throw new Error(`the database drill must run in CI: ${noServer}`);
if (noServer) console.warn(`[skip] the probe with its database stopped: ${noServer}`);

/**
 * The probe against a real partner simulator, a real webhook receiver and the test database:
 * the partner's health failing turns `propgate_probe_success` to 0, and after the configured
 * failures exactly one `firing` notification arrives; after recovery exactly one `resolved`;
 * a restarted probe repeats neither.
 */

const CLIENT = { clientId: "probe-client", clientSecret: `probe-${crypto.randomUUID()}` };

let database: TestDatabase;
let sim: PartnerSim;
const received: Array<{ status: string; alerts: Array<{ labels: Record<string, string> }> }> = [];
let webhook: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  database = await createTestDatabase();
  sim = await startPartnerSim({
    name: "intercom",
    clients: [{ ...CLIENT, scopes: ["health.read", "intercom.open"] }],
  });
  webhook = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      received.push(await request.json());
      return new Response(null, { status: 200 });
    },
  });
});

afterAll(async () => {
  await webhook?.stop(true);
  await sim?.stop();
  await database?.close();
});

function probeEnv() {
  return loadProbeEnv(probeSettings());
}

function probeSettings(): Record<string, string> {
  return {
    PROPGATE_ENV: "development",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: "/nonexistent-not-used",
    LOG_LEVEL: "silent",
    // Rounds are driven by the test (loop.round()); the timer's first round runs at start.
    PROBE_INTERVAL_MS: "3600000",
    PROBE_TIMEOUT_MS: "2000",
    PROBE_FAILURES_TO_ALERT: "3",
    ALERT_WEBHOOK_URL: `http://127.0.0.1:${webhook.port}/alerts`,
    PARTNER_INTERCOM_BASE_URL: sim.url,
    PARTNER_INTERCOM_ISSUER: sim.issuer,
    PARTNER_INTERCOM_CLIENT_ID: CLIENT.clientId,
    PARTNER_INTERCOM_CLIENT_SECRET: CLIENT.clientSecret,
    PARTNER_INTERCOM_SUBJECT_KEY: "ab".repeat(32),
  };
}

async function metricValue(probe: RunningProbe, name: string, labels: string): Promise<number> {
  const response = await fetch(`${probe.url}/metrics`);
  const line = (await response.text())
    .split("\n")
    .find((row) => row.startsWith(`${name}{`) && row.includes(labels));
  if (!line) throw new Error(`no ${name}{${labels}} on /metrics`);
  return Number(line.split(" ").pop());
}

const notices = (check: string) =>
  received.filter((payload) => payload.alerts[0]?.labels.check === check).map((p) => p.status);

describe("the health probe watches a partner", () => {
  test("failing health: 0 on /metrics, one firing after 3 failures, one resolved after recovery, none repeated by a restart", async () => {
    let probe = await startHealthProbe(probeEnv(), { database, vpn: false });
    try {
      await probe.loop.round();
      expect(await metricValue(probe, "propgate_probe_success", 'check="token"')).toBe(1);
      expect(await metricValue(probe, "propgate_probe_success", 'check="health"')).toBe(1);
      expect(
        await metricValue(probe, "propgate_probe_duration_seconds", 'check="health"'),
      ).toBeGreaterThan(0);

      sim.faults.set({ errorRate: 1, errorStatus: 503 });
      await probe.loop.round();
      await probe.loop.round();
      expect(await metricValue(probe, "propgate_probe_success", 'check="health"')).toBe(0);
      expect(await metricValue(probe, "propgate_probe_success", 'check="token"')).toBe(1);
      expect(notices("health")).toEqual([]);
      await probe.loop.round(); // the third failure in a row
      expect(notices("health")).toEqual(["firing"]);
      const [firing] = received;
      expect(firing?.alerts[0]?.labels).toEqual({
        alertname: "PropgatePartnerCheckFailing",
        partner: "intercom",
        check: "health",
        severity: "critical",
      });
      await probe.loop.round(); // still failing: no repeat
      expect(notices("health")).toEqual(["firing"]);

      // A restart while the state holds repeats nothing.
      await probe.stop();
      probe = await startHealthProbe(probeEnv(), { database, vpn: false });
      await probe.loop.round();
      expect(notices("health")).toEqual(["firing"]);

      sim.faults.set({ errorRate: 0 });
      await probe.loop.round();
      expect(await metricValue(probe, "propgate_probe_success", 'check="health"')).toBe(1);
      expect(notices("health")).toEqual(["firing", "resolved"]);
      await probe.loop.round();
      expect(notices("health")).toEqual(["firing", "resolved"]);
      expect(notices("token")).toEqual([]);

      // The history the admins read.
      const report = await partnerHealthReport(database.db);
      expect(report.checks.find((c) => c.check === "health")).toMatchObject({
        partner: "intercom",
        state: "ok",
        consecutiveFailures: 0,
      });
      expect(
        report.transitions
          .filter((t) => t.check === "health")
          .map((t) => `${t.from}>${t.to}`)
          .reverse(),
      ).toEqual(["ok>failing", "failing>firing", "firing>ok"]);
      expect(report.transitions.find((t) => t.to === "failing")?.error).toBe("answered 503");
    } finally {
      await probe.stop();
    }
  });

  test("a hung partner fails its health check at the probe's timeout; the round goes on", async () => {
    sim.faults.set({ responseMode: "hang" });
    const probe = await startHealthProbe(probeEnv(), { database, vpn: false });
    try {
      await probe.loop.round();
      expect(await metricValue(probe, "propgate_probe_success", 'check="health"')).toBe(0);
      expect(await metricValue(probe, "propgate_probe_success", 'check="token"')).toBe(1);
      expect(
        await metricValue(probe, "propgate_probe_duration_seconds", 'check="health"'),
      ).toBeGreaterThanOrEqual(1.9);
    } finally {
      sim.faults.set({ responseMode: "normal" });
      await probe.stop();
    }
  });

  test("the token endpoint down fails the token check and the health check with it", async () => {
    sim.faults.set({ tokenEndpointDown: true });
    const probe = await startHealthProbe(probeEnv(), { database, vpn: false });
    try {
      await probe.loop.round();
      expect(await metricValue(probe, "propgate_probe_success", 'check="token"')).toBe(0);
      expect(await metricValue(probe, "propgate_probe_success", 'check="health"')).toBe(0);
    } finally {
      sim.faults.set({ tokenEndpointDown: false });
      await probe.stop();
    }
  });

  test("traced: a round is one trace, a span per check; the health request carries it", async () => {
    const collector = startOtlpReceiver();
    const probe = await startHealthProbe(
      loadProbeEnv({ ...probeSettings(), OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }),
      { database, vpn: false },
    );
    try {
      sim.recorder.clear();
      await probe.loop.round();
      const health = await sim.recorder.waitFor((record) => record.operation === "health");
      const traceId = health.traceparent?.split("-")[1] ?? "";
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      await probe.stop(); // flushes the spans
      const spans = await collector.trace(traceId, (found) => found.length >= 3);
      const round = spans.find((span) => span.name === "probe intercom");
      expect(round).toMatchObject({ parentSpanId: null, service: "propgate-health-probe" });
      const checks = spans.filter((span) => span.parentSpanId === round?.spanId);
      expect(checks.map((span) => [span.name, span.attributes["propgate.outcome"]]).sort()).toEqual(
        [
          ["probe.health", "ok"],
          ["probe.token", "ok"],
        ],
      );
      const check = checks.find((span) => span.name === "probe.health");
      expect(health.traceparent).toBe(`00-${traceId}-${check?.spanId}-01`);
    } finally {
      await probe.stop();
      await collector.stop();
    }
  });

  test.skipIf(noServer !== null)(
    "with its database stopped it keeps probing, exporting and alerting; the history catches up when the database returns",
    async () => {
      const server = await startThrowawayPostgres();
      const database = await openDatabase({ url: server.url, max: 2 });
      try {
        await migrateDatabase(database);
        const before = received.length;
        const probe = await startHealthProbe(probeEnv(), { database, vpn: false });
        try {
          await probe.loop.round();
          await server.stop();
          sim.faults.set({ errorRate: 1, errorStatus: 503 });
          for (let i = 0; i < 3; i++) await probe.loop.round();
          // Exported and alerted on all the same.
          expect(await metricValue(probe, "propgate_probe_success", 'check="health"')).toBe(0);
          expect(received.slice(before).map((p) => p.status)).toEqual(["firing"]);
          await server.start();
          await probe.loop.round();
          const report = await partnerHealthReport(database.db);
          expect(
            report.transitions
              .filter((t) => t.check === "health")
              .map((t) => `${t.from}>${t.to}`)
              .reverse(),
          ).toEqual(["ok>failing", "failing>firing"]);
          expect(report.checks.find((c) => c.check === "health")).toMatchObject({
            state: "firing",
            consecutiveFailures: 4,
          });
        } finally {
          sim.faults.set({ errorRate: 0 });
          await probe.stop();
        }
      } finally {
        await database.close();
        await server.destroy();
      }
    },
  );
});
