import { afterAll, describe, expect, test } from "bun:test";
import { recordAuditEvent } from "@propgate/consent-audit";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { createMetrics } from "@propgate/observability";
import { startRetentionWatch } from "../src/retention/last-run-watch.ts";
import { observed } from "./fixtures/observed.ts";

const database = await createTestDatabase();
afterAll(() => database.close());

/** The gauge's value as a scrape shows it. */
async function scraped(metrics: ReturnType<typeof createMetrics>): Promise<string | undefined> {
  const text = await metrics.registry.metrics();
  return /^propgate_retention_last_run_timestamp_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
}

describe("the retention job's last run, exported by the api", () => {
  test("0 before any run; then the time of the last successful run, not of a failed one", async () => {
    const metrics = createMetrics({ app: "api" });
    const seen = observed();
    // The timer stays out of the way: the test runs the pass itself.
    const watch = startRetentionWatch(
      { database, metrics, logger: seen.logger },
      { intervalMs: 3_600_000 },
    );
    try {
      expect(await watch.runOnce()).toBe(0);
      expect(await scraped(metrics)).toBe("0");
      const job = { sourceApp: "cli", instanceId: "host-1", actor: "system:retention" };
      const ok = await recordAuditEvent(database.db, {
        ...job,
        kind: "retention.run",
        result: "ok",
      });
      await recordAuditEvent(database.db, { ...job, kind: "retention.run", result: "error" });
      const seconds = Math.floor(Date.parse(ok.at) / 1000);
      expect(await watch.runOnce()).toBe(seconds);
      expect(await scraped(metrics)).toBe(String(seconds));
    } finally {
      await watch.stop();
    }
  });
});
