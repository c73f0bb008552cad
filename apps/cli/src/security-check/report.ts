import { relative } from "node:path";
import { atLeast, type Finding, SEVERITIES, type Severity, severityRank } from "./findings.ts";

export interface Checked {
  kind: "wireguard" | "nftables" | "tls" | "tls-endpoint" | "secret" | "env";
  /** A path, or host:port for a TLS endpoint. */
  file: string;
}

export interface Report {
  ok: boolean;
  failOn: Severity;
  checked: Checked[];
  summary: Record<Severity, number>;
  findings: Finding[];
}

export function buildReport(checked: Checked[], findings: Finding[], failOn: Severity): Report {
  const sorted = [...findings].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.file.localeCompare(b.file) ||
      (a.line ?? 0) - (b.line ?? 0),
  );
  const summary = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const finding of sorted) summary[finding.severity]++;
  return {
    ok: !sorted.some((f) => atLeast(f.severity, failOn)),
    failOn,
    checked,
    summary,
    findings: sorted,
  };
}

function shortPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== "" && !rel.startsWith("..") ? rel : file;
}

/** The human form: what was checked, a table of findings, one verdict line. */
export function formatTable(report: Report, cwd: string): string {
  const lines: string[] = [];
  lines.push(`propgate security-check: ${report.checked.length} file(s)`);
  for (const item of report.checked)
    lines.push(`  ${item.kind.padEnd(12)} ${shortPath(item.file, cwd)}`);
  lines.push("");
  const rows = report.findings.map((f) => [
    f.severity.toUpperCase(),
    f.check,
    `${shortPath(f.file, cwd)}${f.line === undefined ? "" : `:${f.line}`}`,
    f.message,
  ]);
  if (rows.length === 0) {
    lines.push("no findings");
  } else {
    const header = ["SEVERITY", "CHECK", "WHERE", "FINDING"];
    const widths = [0, 1, 2].map((col) =>
      Math.max(header[col]?.length ?? 0, ...rows.map((row) => row[col]?.length ?? 0)),
    );
    const format = (row: string[]) =>
      row
        .map((cell, col) => (col < 3 ? cell.padEnd(widths[col] ?? 0) : cell))
        .join("  ")
        .trimEnd();
    lines.push(format(header));
    lines.push(format(widths.map((w) => "-".repeat(w)).concat("-------")));
    for (const row of rows) lines.push(format(row));
  }
  lines.push("");
  const counts = SEVERITIES.map((s) => `${report.summary[s]} ${s}`).join(", ");
  lines.push(
    report.ok
      ? `${counts} — OK (nothing at or above ${report.failOn})`
      : `${counts} — FAIL (findings at or above ${report.failOn})`,
  );
  return lines.join("\n");
}
