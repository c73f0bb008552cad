import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import type { AuditCheckpoint } from "./audit-checkpoints";

/** The `msg` of the log line each signed checkpoint gets: the copy the database never holds. */
export const CHECKPOINT_LOG_MESSAGE = "audit checkpoint";

/** A checkpoint as the log stream has it, and the line of the export it came from. */
export type LoggedCheckpoint = Omit<AuditCheckpoint, "id"> & { line: number };

/**
 * The fields of a checkpoint's log line: a few to read, and the signed checkpoint whole in
 * `checkpoint`, as hex — text the log scrubber (plates, tokens) can never match, where a base64
 * signature or a host name in a chain id sometimes would.
 */
export function checkpointLogFields(checkpoint: AuditCheckpoint): Record<string, unknown> {
  return {
    chainId: checkpoint.chainId,
    chainSeq: checkpoint.chainSeq,
    closing: checkpoint.closing,
    at: checkpoint.at.toISOString(),
    checkpoint: Buffer.from(JSON.stringify(checkpoint), "utf8").toString("hex"),
  };
}

const Signed = {
  chainId: z.string().min(1).max(512),
  chainSeq: z.number().int().min(0),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  at: z.iso.datetime().transform((at) => new Date(at)),
  keyId: z.string().min(1).max(64),
  signature: z.string().regex(/^[A-Za-z0-9_-]+$/),
};

const WholeCheckpoint = z.object({
  ...Signed,
  closing: z.boolean(),
  intervalMs: z.number().int().positive().nullable(),
  heartbeatMs: z.number().int().positive().nullable(),
});

/** The line as written before `checkpoint` was added: the v1 fields, one by one. */
const V1Line = z.object(Signed);

export class CheckpointLogError extends Error {
  constructor(line: number, problem: string) {
    super(`line ${line}: ${problem}`);
    this.name = "CheckpointLogError";
  }
}

function parseJsonLine(text: string): unknown {
  // A log store's export may put its own timestamp or labels before the JSON of the line.
  const start = text.indexOf("{");
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start));
  } catch {
    return undefined;
  }
}

/**
 * The `audit checkpoint` lines of a log export (JSON lines, as the api writes them; other lines
 * are skipped). A checkpoint line that cannot be read is an error naming it, never skipped: a
 * copy that is not checked is no anchor. Duplicates (one line exported twice) count once.
 */
export function parseCheckpointLog(text: string): LoggedCheckpoint[] {
  const found = new Map<string, LoggedCheckpoint>();
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    if (!raw.includes(CHECKPOINT_LOG_MESSAGE)) return;
    const record = parseJsonLine(raw);
    if (typeof record !== "object" || record === null) {
      throw new CheckpointLogError(line, "mentions an audit checkpoint but is not a JSON log line");
    }
    const fields = record as Record<string, unknown>;
    if (fields.msg !== CHECKPOINT_LOG_MESSAGE) return;
    let checkpoint: Omit<LoggedCheckpoint, "line">;
    if (typeof fields.checkpoint === "string") {
      let whole: unknown;
      try {
        whole = JSON.parse(Buffer.from(fields.checkpoint, "hex").toString("utf8"));
      } catch {
        throw new CheckpointLogError(line, "its checkpoint is not hex of JSON");
      }
      const parsed = WholeCheckpoint.safeParse(whole);
      if (!parsed.success) throw new CheckpointLogError(line, describe(parsed.error));
      checkpoint = parsed.data;
    } else {
      const parsed = V1Line.safeParse(fields);
      if (!parsed.success) throw new CheckpointLogError(line, describe(parsed.error));
      checkpoint = { ...parsed.data, closing: false, intervalMs: null, heartbeatMs: null };
    }
    if (!found.has(checkpoint.signature)) found.set(checkpoint.signature, { ...checkpoint, line });
  });
  return [...found.values()];
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return `checkpoint field ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`;
}

/**
 * Which logged checkpoints the database lacks, or lacks the row of (the head it signed, with
 * its hash): indexes into `logged`. One statement per few thousand, each an index probe.
 */
export async function loggedButMissing(
  run: <R extends Record<string, unknown>>(query: SQL) => Promise<R[]>,
  logged: readonly LoggedCheckpoint[],
): Promise<number[]> {
  const missing: number[] = [];
  for (let start = 0; start < logged.length; start += 5000) {
    const chunk = logged.slice(start, start + 5000).map((checkpoint, i) => ({
      i: start + i,
      chain_id: checkpoint.chainId,
      chain_seq: checkpoint.chainSeq,
      head_hash: checkpoint.headHash,
      signature: checkpoint.signature,
    }));
    const rows = await run<{ i: number }>(sql`
      select l.i from pg_catalog.jsonb_to_recordset(${JSON.stringify(chunk)}::jsonb)
        as l(i int, chain_id text, chain_seq bigint, head_hash text, signature text)
      where not exists (select 1 from audit_checkpoints k where k.chain_id = l.chain_id
          and k.chain_seq = l.chain_seq and k.signature = l.signature)
        or (l.chain_seq > 0 and not exists (select 1 from audit_events e
          where e.chain_id = l.chain_id and e.chain_seq = l.chain_seq and e.hash = l.head_hash))`);
    missing.push(...rows.map((row) => row.i));
  }
  return missing.sort((a, b) => a - b);
}
