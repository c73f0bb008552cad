import { join } from "node:path";
import { grafanaDashboardJson } from "@propgate/admin";

/**
 * `bun run grafana`: the operations overview as a Grafana dashboard, from the admin app's panel
 * list (apps/admin/src/overview/panels.ts), written to infra/grafana/propgate-overview.json.
 * apps/admin/test/overview.test.ts fails when the committed file differs from a fresh one.
 */
const GRAFANA_DASHBOARD_FILE = join(import.meta.dir, "../infra/grafana/propgate-overview.json");

if (import.meta.main) {
  await Bun.write(GRAFANA_DASHBOARD_FILE, grafanaDashboardJson());
  console.log("wrote infra/grafana/propgate-overview.json");
}
