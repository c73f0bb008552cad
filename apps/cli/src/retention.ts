import { hostname } from "node:os";
import {
  type AuditSigner,
  type DatabaseHandle,
  type PruneCounts,
  pruneExpired,
  RETENTION_KINDS,
  type RetentionPeriods,
  RetentionRunningError,
  recordAuditEvent,
  redactAuditRows,
  retentionCuts,
  withRetentionLock,
} from "@propgate/consent-audit";
import { PARTNERS, type Partner, type Purpose } from "@propgate/domain";
import { OPERATIONS } from "@propgate/partner-client";
import { withSignedChain } from "./audit-signing.ts";

export const RETENTION_USAGE = `  propgate retention run [--json]     delete what has outlived its retention period and redact
                                        the personal fields of old audit rows (the daily job;
                                        periods: *_RETENTION_DAYS, docs/data-retention.md); needs
                                        AUDIT_SIGNING_KEY_FILE; one run at a time; counts per kind`;

/** Who the run's audit row names: the job, never an operator's or a resident's name. */
const RUN_AUDIT = { sourceApp: "cli", instanceId: hostname(), actor: "system:retention" } as const;

/**
 * The purposes whose calls reach each partner (the contract's operations; an operation any
 * partner serves counts for each), and `journal`: a partner's events name subjects the journal
 * maps to residents. A resident holding one keeps their pseudonym at that partner.
 */
function partnerPurposes(): Record<Partner, Purpose[]> {
  const operations = Object.values(OPERATIONS);
  return Object.fromEntries(
    PARTNERS.map((partner) => [
      partner,
      [
        ...new Set([
          ...operations.flatMap((op) =>
            op.purpose && (op.partner === partner || op.partner === null) ? [op.purpose] : [],
          ),
          "journal" as const,
        ]),
      ],
    ]),
  ) as Record<Partner, Purpose[]>;
}

interface RunReport {
  at: string;
  pruned: PruneCounts;
  auditRowsRedacted: number;
  redactionRecords: number;
  seconds: number;
}

/**
 * `propgate retention run`: prunes, redacts, and writes one `retention.run` audit row (target:
 * the run's time, from which every cut is taken; result ok or error), on a signed chain.
 * Returns the exit code: 0 done, 1 failed or another run holds the lock, 2 bad usage.
 */
export async function retentionCli(
  args: string[],
  services: {
    open: (command: string) => Promise<DatabaseHandle>;
    signer: AuditSigner;
    periods: RetentionPeriods;
  },
): Promise<number> {
  const [command, ...rest] = args;
  const json = rest.length === 1 && rest[0] === "--json";
  if (command !== "run" || (rest.length > 0 && !json)) {
    console.error(`retention: unknown arguments\n\n${RETENTION_USAGE}`);
    return 2;
  }
  const database = await services.open("retention run");
  try {
    const report = await withRetentionLock(database, () => run(database, services));
    if (json) console.log(JSON.stringify(report));
    else {
      const pruned = RETENTION_KINDS.map((kind) => `${kind} ${report.pruned[kind]}`).join(", ");
      console.log(`retention run: pruned ${pruned}`);
      console.log(
        `retention run: audit rows redacted ${report.auditRowsRedacted} (${report.redactionRecords} redaction record(s)), in ${report.seconds} s`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof RetentionRunningError) {
      console.error(`retention run: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await database.close();
  }
}

async function run(
  database: DatabaseHandle,
  services: { signer: AuditSigner; periods: RetentionPeriods },
): Promise<RunReport> {
  const now = new Date();
  const started = performance.now();
  const cuts = retentionCuts(services.periods, now);
  const { db } = database;
  return withSignedChain(db, services.signer, async () => {
    const audit = (result: "ok" | "error") =>
      recordAuditEvent(db, {
        ...RUN_AUDIT,
        kind: "retention.run",
        result,
        target: now.toISOString(),
        latencyMs: Math.round(performance.now() - started),
        ...(result === "error" ? { errorCode: "retention_failed" } : {}),
      });
    try {
      const pruned = await pruneExpired(db, { cuts, now, partnerPurposes: partnerPurposes() });
      const redacted = await redactAuditRows(db, {
        before: cuts.auditPersonalData,
        signer: services.signer,
        now,
      });
      await audit("ok");
      return {
        at: now.toISOString(),
        pruned,
        auditRowsRedacted: redacted.rows,
        redactionRecords: redacted.records,
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      };
    } catch (error) {
      // The failure is on record too (the alert watches for an `ok` one); the error goes on up.
      await audit("error").catch(() => undefined);
      throw error;
    }
  });
}
