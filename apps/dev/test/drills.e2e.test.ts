import { describe, expect, test } from "bun:test";
import { type DrillName, runDrill } from "../drill/drills.ts";
import { throwawayPostgresUnavailable } from "../drill/throwaway-postgres.ts";

/**
 * The fault drills that must never regress, as tests (all six run with `bun run drill`): each
 * starts its own throwaway PostgreSQL, the partner sim and the api as child processes, runs a
 * steady load of door opens and breaks one part.
 */
const missing = throwawayPostgresUnavailable();
if (missing) {
  if (process.env.CI) throw new Error(`drills need ${missing} in CI`);
  console.warn(`[skip] drills: ${missing}`);
}

describe.skipIf(missing !== null)("fault drills under load", () => {
  for (const name of ["postgres-restart", "partner-kill", "api-sigterm"] as DrillName[]) {
    test(name, async () => {
      const result = await runDrill(name);
      for (const check of result.checks)
        console.log(
          `[drill ${name}] ${check.pass ? "pass" : "FAIL"} ${check.rule}: ${check.measured}`,
        );
      expect(result.checks.filter((check) => !check.pass)).toEqual([]);
      expect(result.checks.length).toBeGreaterThanOrEqual(4);
    }, 120_000);
  }
});
