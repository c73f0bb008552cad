/** Most severe first. `high` and `critical` fail the check by default. */
export const SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  severity: Severity;
  /** Stable id of the check, e.g. `wireguard.allowed-ips`. */
  check: string;
  /** The file (or host:port of a TLS endpoint) the finding is about. */
  file: string;
  /** 1-based line in `file`, when the finding is about one line. */
  line?: number;
  message: string;
}

export function severityRank(severity: Severity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(severity);
}

/** Whether `severity` is at least as severe as `threshold`. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return severityRank(severity) >= severityRank(threshold);
}

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** Collects findings about one file. */
export class FindingSink {
  readonly findings: Finding[] = [];
  constructor(readonly file: string) {}

  add(severity: Severity, check: string, message: string, line?: number): void {
    this.findings.push({
      severity,
      check,
      file: this.file,
      message,
      ...(line === undefined ? {} : { line }),
    });
  }
}
