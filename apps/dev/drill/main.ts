import { DRILL_NAMES, type DrillName, type DrillResult, runDrill } from "./drills.ts";
import { throwawayPostgresUnavailable } from "./throwaway-postgres.ts";
import { throwawayRedisUnavailable } from "./throwaway-redis.ts";

/**
 * `bun run drill [name…]`: the fault drills under load, each against a rig of its own (a
 * throwaway PostgreSQL and Redis, the partner sim and the api as child processes). Prints what
 * each did, what it measured and pass/fail against its rules; exits 1 if any failed.
 */
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !DRILL_NAMES.includes(name as DrillName));
if (unknown.length > 0) {
  console.error(`unknown drill ${unknown[0]}; drills: ${DRILL_NAMES.join(", ")}`);
  process.exit(2);
}
const missing = throwawayPostgresUnavailable() ?? throwawayRedisUnavailable();
if (missing) {
  console.error(`drill: ${missing}`);
  process.exit(2);
}
const names = asked.length > 0 ? (asked as DrillName[]) : DRILL_NAMES;
const results: DrillResult[] = [];
for (const name of names) {
  console.log(`\n== ${name}`);
  const started = performance.now();
  const result = await runDrill(name, (line) => console.log(line));
  results.push(result);
  for (const item of result.checks)
    console.log(`  ${item.pass ? "pass" : "FAIL"}  ${item.rule}\n        ${item.measured}`);
  console.log(
    `  ${result.pass ? "PASSED" : "FAILED"} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}
console.log(
  `\n${results.filter((r) => r.pass).length} of ${results.length} drills passed${
    results.every((r) => r.pass)
      ? ""
      : `; failed: ${results
          .filter((r) => !r.pass)
          .map((r) => r.name)
          .join(", ")}`
  }`,
);
process.exit(results.every((r) => r.pass) ? 0 : 1);
