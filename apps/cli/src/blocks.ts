import { hostname, userInfo } from "node:os";
import {
  type AuditSigner,
  type Block,
  BlockNotFoundError,
  type DatabaseHandle,
  InvalidInputError,
  liftBlock,
  listBlocks,
} from "@propgate/consent-audit";
import { BLOCK_SUBJECT_TYPES, TypedId } from "@propgate/domain";
import { z } from "zod";
import { withSignedChain } from "./audit-signing.ts";

export const BLOCKS_USAGE = `  propgate blocks list [--all] [--subject <id>] [--type <${BLOCK_SUBJECT_TYPES.join("|")}>] [--json]
                                        the blocks in force (--all: lifted and expired too),
                                        newest first
  propgate blocks lift <blk_…> --reason <text>
                                        end a block now, as an admin's lift does: audited with
                                        this operator's name and the reason, announced to every
                                        api instance`;

const ListArgs = z.strictObject({
  all: z.boolean(),
  json: z.boolean(),
  subject: z.string().min(1).max(128).optional(),
  type: z
    .enum(BLOCK_SUBJECT_TYPES, `--type is one of ${BLOCK_SUBJECT_TYPES.join(", ")}`)
    .optional(),
});

const LiftArgs = z.strictObject({
  blockId: TypedId("blk"),
  reason: z
    .string("--reason <text> is required: why the block ends")
    .trim()
    .min(3, "--reason needs at least 3 characters")
    .max(500, "--reason takes at most 500 characters"),
});

/** Flags of the form `--name value` or `--name`; positional words kept in order. */
function parseFlags(
  args: string[],
  valued: readonly string[],
  bare: readonly string[],
): { flags: Record<string, string | boolean>; positional: string[] } {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const name = arg.startsWith("--") ? arg.slice(2) : null;
    if (name === null) positional.push(arg);
    else if (bare.includes(name)) flags[name] = true;
    else if (valued.includes(name)) {
      const value = args[i + 1];
      if (value === undefined || value.startsWith("--"))
        throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
      i++;
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  return { flags, positional };
}

class UsageError extends Error {}

function describe(block: Block, now: number): string {
  const state = block.liftedAt
    ? `lifted by ${block.liftedBy} (${block.liftReason})`
    : Date.parse(block.expiresAt) <= now
      ? "expired"
      : `in force, ${Math.ceil((Date.parse(block.expiresAt) - now) / 1000)} s left`;
  return [
    block.id,
    `${block.subjectType}:${block.subjectId}`,
    block.kind,
    `offence ${block.offence}`,
    `from ${block.createdAt}`,
    `until ${block.expiresAt}`,
    state,
  ].join("  ");
}

/** The operator's own name on the audit row, as `devices import` writes it. */
function operator() {
  const actor = `operator:${userInfo().username}`;
  return { actor, audit: { sourceApp: "cli" as const, instanceId: hostname(), actor } };
}

/**
 * `propgate blocks list|lift`: what an operator needs when the admin app is out of reach (or a
 * block keeps an admin out). Returns the exit code: 0 done, 1 refused, 2 bad usage.
 */
export async function blocksCli(
  args: string[],
  open: (command: string) => Promise<DatabaseHandle>,
  signer: (command: string) => AuditSigner | null,
): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === "list") {
      const { flags, positional } = parseFlags(rest, ["subject", "type"], ["all", "json"]);
      if (positional.length > 0) throw new UsageError(`unknown argument ${positional[0]}`);
      const parsed = ListArgs.safeParse({ all: false, json: false, ...flags });
      if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? "bad arguments");
      const database = await open("blocks list");
      try {
        const blocks = await listBlocks(database.db, {
          activeOnly: !parsed.data.all,
          subjectId: parsed.data.subject,
          subjectType: parsed.data.type,
          limit: 500,
        });
        if (parsed.data.json) console.log(JSON.stringify(blocks));
        else if (blocks.length === 0)
          console.log(parsed.data.all ? "blocks: none" : "blocks: none in force");
        else for (const block of blocks) console.log(describe(block, Date.now()));
        return 0;
      } finally {
        await database.close();
      }
    }
    if (command === "lift") {
      const { flags, positional } = parseFlags(rest, ["reason"], []);
      if (positional.length !== 1) throw new UsageError("give exactly one block id (blk_…)");
      const parsed = LiftArgs.safeParse({ blockId: positional[0], reason: flags.reason });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new UsageError(
          issue?.path[0] === "blockId" ? "the block id must look like blk_…" : issue?.message,
        );
      }
      const { actor, audit } = operator();
      // Its audit row goes on a chain of this command's own, signed and closed like devices import's.
      const signing = signer("blocks lift");
      const database = await open("blocks lift");
      try {
        const block = await withSignedChain(database.db, signing, () =>
          liftBlock(
            database.db,
            { ...parsed.data, actor },
            { ...audit, reason: parsed.data.reason },
          ),
        );
        console.log(`blocks lift: ${block.id} (${block.subjectType}:${block.subjectId}) lifted`);
        return 0;
      } catch (error) {
        if (error instanceof BlockNotFoundError || error instanceof InvalidInputError) {
          console.error(`blocks lift: ${error.message}`);
          return 1;
        }
        throw error;
      } finally {
        await database.close();
      }
    }
    throw new UsageError(command ? `unknown command blocks ${command}` : "blocks: list or lift?");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`blocks: ${error.message}\n\n${BLOCKS_USAGE}`);
    return 2;
  }
}
