/** The rows of `propgate partner verify` and their two printed forms. */

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckRow {
  /** `discovery`, `token:<scope>`, `wrong-scope`, or the contract's operation name. */
  check: string;
  status: CheckStatus;
  /** One line in our words: never a secret, a token, SDP or the partner's body text. */
  detail: string;
}

export interface VerifyReport {
  partner: string;
  baseUrl: string;
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: CheckRow[];
  seconds: number;
}

export function buildReport(
  partner: string,
  baseUrl: URL,
  checks: CheckRow[],
  seconds: number,
): VerifyReport {
  const summary: Record<CheckStatus, number> = { pass: 0, fail: 0, skip: 0 };
  for (const row of checks) summary[row.status]++;
  return {
    partner,
    baseUrl: baseUrl.href,
    ok: summary.fail === 0,
    summary,
    checks,
    seconds: Number(seconds.toFixed(3)),
  };
}

/** The human form: one row per check, then the verdict naming the failed checks. */
export function formatTable(report: VerifyReport): string {
  const header = ["CHECK", "RESULT", "DETAIL"];
  const rows = report.checks.map((row) => [row.check, row.status.toUpperCase(), row.detail]);
  const widths = [0, 1].map((col) =>
    Math.max(header[col]?.length ?? 0, ...rows.map((row) => row[col]?.length ?? 0)),
  );
  const format = (row: string[]) =>
    row
      .map((cell, col) => (col < 2 ? cell.padEnd(widths[col] ?? 0) : cell))
      .join("  ")
      .trimEnd();
  const failed = report.checks.filter((row) => row.status === "fail").map((row) => row.check);
  const { pass, fail, skip } = report.summary;
  return [
    `propgate partner verify ${report.partner}: ${report.baseUrl}`,
    "",
    format(header),
    format([...widths.map((w) => "-".repeat(w)), "------"]),
    ...rows.map(format),
    "",
    `${pass} passed, ${fail} failed, ${skip} skipped in ${report.seconds} s — ${
      report.ok ? "OK" : `FAIL (${failed.join(", ")})`
    }`,
  ].join("\n");
}
