import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { createMetrics } from "@propgate/observability";

/** The alert rules in infra/prometheus: valid, unit-tested with promtool, and naming only real metrics. */
const DIR = `${import.meta.dir}/../../../infra/prometheus`;
const PROMTOOL = "/usr/bin/promtool";
const hasPromtool = existsSync(PROMTOOL);
if (!hasPromtool) {
  if (process.env.CI)
    throw new Error(`${PROMTOOL} is missing in CI: run scripts/install-system-tools.sh`);
  console.warn(`[skip] alert rule checks: ${PROMTOOL} not installed (Debian package prometheus)`);
}

async function promtool(...args: string[]) {
  const child = Bun.spawn([PROMTOOL, ...args], { cwd: DIR, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, output: `${out}${err}` };
}

describe("alert rules", () => {
  test.skipIf(!hasPromtool)("promtool accepts the rules and their unit tests pass", async () => {
    const check = await promtool("check", "rules", "alerts.yml");
    expect(check.output).toContain("SUCCESS");
    expect(check.code).toBe(0);
    const unit = await promtool("test", "rules", "alerts.test.yml");
    expect(unit.output).toContain("SUCCESS");
    expect(unit.code).toBe(0);
  });

  test("every metric the rules use is one the apps export", async () => {
    const rules = readFileSync(`${DIR}/alerts.yml`, "utf8");
    const used = new Set(rules.match(/propgate_[a-z_]+/g) ?? []);
    expect(used.size).toBeGreaterThan(5);
    const exported = new Set(
      (await createMetrics({ app: "api" }).registry.getMetricsAsJSON()).map(
        (metric) => metric.name,
      ),
    );
    for (const name of used)
      expect({ name, exported: exported.has(name) }).toEqual({ name, exported: true });
  });
});
