import { join } from "node:path";

/**
 * The PrometheusRule of infra/k8s from infra/prometheus/alerts.yml, the one source of the alert
 * rules: its `groups:` block, indented under `spec:`, comments and all (promtool checks that
 * file; apps/dev/test/deploy-k8s.test.ts fails when the two differ).
 */
export function prometheusRuleYaml(alertsYaml: string): string {
  const lines = alertsYaml.replace(/\n+$/, "").split("\n");
  const start = lines.findIndex((line) => line.startsWith("groups:"));
  if (start < 0) throw new Error("alerts.yml: no top-level groups: block");
  const rest = lines.slice(start + 1).find((line) => /^[^\s#]/.test(line));
  if (rest) throw new Error(`alerts.yml: only groups: may follow, found "${rest}"`);
  return [
    "# Written by `bun run k8s-rules` (scripts/prometheus-rule.ts) from infra/prometheus/alerts.yml:",
    "# edit that file, then run it. A test fails when the two differ.",
    "apiVersion: monitoring.coreos.com/v1",
    "kind: PrometheusRule",
    "metadata:",
    "  name: propgate",
    "spec:",
    ...lines.slice(start).map((line) => (line === "" ? line : `  ${line}`)),
    "",
  ].join("\n");
}

export const ALERTS_FILE = join(import.meta.dir, "../infra/prometheus/alerts.yml");
export const PROMETHEUS_RULE_FILE = join(import.meta.dir, "../infra/k8s/base/prometheus-rule.yaml");

if (import.meta.main) {
  await Bun.write(PROMETHEUS_RULE_FILE, prometheusRuleYaml(await Bun.file(ALERTS_FILE).text()));
  console.log("wrote infra/k8s/base/prometheus-rule.yaml");
}
