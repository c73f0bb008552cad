import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import {
  auditVerifyKey,
  createAuditSigner,
  createBlockList,
  generateAuditSigningKey,
  listAuditEvents,
  listBlocks,
  placeBlock,
  recordAnomaly,
  signProcessChain,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { type CliDatabase, createCliDatabase } from "./cli-database.ts";
import { runCli } from "./run-cli.ts";

/** `propgate blocks list|lift`: an operator acting on blocks without the admin app. */
const dir = mkdtempSync(join(tmpdir(), "propgate-cli-blocks-"));
let database: CliDatabase;
let env: Record<string, string>;

/** The audit signing key, made at test time: the lift's row goes on a signed chain. */
const signingKey = generateAuditSigningKey();
const keyFile = join(dir, "audit-signing-key.pem");
writeFileSync(keyFile, signingKey, { mode: 0o600 });

beforeAll(async () => {
  database = await createCliDatabase(join(dir, "data"));
  env = { ...database.env, AUDIT_SIGNING_KEY_FILE: keyFile };
});
afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(args, { env });

/** A block as the watch places it: an anomaly, then the block, audited. */
async function blockSomeone(subjectId: string) {
  return database.withDb(async (db) => {
    // As an api instance places it: on a chain its signing key signs and closes.
    const signing = signProcessChain(db, createAuditSigner(signingKey));
    const { anomaly } = await recordAnomaly(db, {
      kind: "credential_guessing",
      subjectType: "ip",
      subjectId,
      windowStart: new Date(),
      windowSeconds: 300,
      count: 30,
      threshold: 30,
    });
    const block = await placeBlock(
      db,
      anomaly,
      { baseSeconds: 900, maxSeconds: 86_400 },
      { sourceApp: "api", instanceId: "test", actor: null },
    );
    await signing.release();
    if (!block) throw new Error("no block placed");
    return block;
  });
}

describe("propgate blocks", () => {
  test("list shows the blocks in force; lift ends one, audited with the operator and the reason", async () => {
    const block = await blockSomeone("198.51.100.7");
    const listed = await cli(["blocks", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(block.id);
    expect(listed.stdout).toContain("ip:198.51.100.7");
    expect(listed.stdout).toContain("credential_guessing");
    expect(listed.stdout).toMatch(/in force, \d+ s left/);
    const json = await cli(["blocks", "list", "--json", "--type", "ip"]);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id: block.id })]);

    // A running instance's block list hears of the lift (PostgreSQL's announcement).
    const instance = database.postgres ? await createBlockList(database.postgres) : null;
    try {
      if (instance) expect(instance.check("ip", "198.51.100.7")?.blockId).toBe(block.id);
      const lifted = await cli([
        "blocks",
        "lift",
        block.id,
        "--reason",
        "the building's Wi-Fi, not a guesser",
      ]);
      expect(lifted).toMatchObject({ code: 0, stderr: "" });
      expect(lifted.stdout).toContain(`${block.id} (ip:198.51.100.7) lifted`);
      if (instance) {
        const deadline = Date.now() + 5000;
        while (instance.check("ip", "198.51.100.7")) {
          if (Date.now() > deadline) throw new Error("the lift was not announced within 5 s");
          await Bun.sleep(20);
        }
      }
    } finally {
      await instance?.close();
    }
    const operator = `operator:${userInfo().username}`;
    await database.withDb(async (db) => {
      const [stored] = await listBlocks(db, { subjectId: "198.51.100.7" });
      expect(stored).toMatchObject({
        liftedBy: operator,
        liftReason: "the building's Wi-Fi, not a guesser",
      });
      const [row] = await listAuditEvents(db, { kind: "admin.blocks.lift" });
      expect(row).toMatchObject({
        actor: operator,
        sourceApp: "cli",
        target: block.id,
        result: "ok",
        reason: "the building's Wi-Fi, not a guesser",
      });
    });
    expect(await cli(["blocks", "list"])).toMatchObject({
      code: 0,
      stdout: "blocks: none in force\n",
    });
    const all = await cli(["blocks", "list", "--all"]);
    expect({ code: all.code, stderr: all.stderr }).toEqual({ code: 0, stderr: "" });
    expect(all.stdout).toContain(`lifted by ${operator}`);
    // The command's chain is signed and closed: the log verifies with the key, its end included.
    const verdict = await database.withDb((db) =>
      verifyAuditChain(db, { publicKey: auditVerifyKey(signingKey) }),
    );
    expect(verdict).toMatchObject({ ok: true });
  });

  test("bad usage exits 2 and changes nothing; a block not in force exits 1", async () => {
    const block = await blockSomeone("198.51.100.8");
    const cases: Array<[string[], string]> = [
      [["blocks", "lift", block.id], "--reason <text> is required"],
      [["blocks", "lift", block.id, "--reason", "ok"], "--reason needs at least 3 characters"],
      [["blocks", "lift", block.id, "--reason"], "--reason needs a value"],
      [["blocks", "lift", "198.51.100.8", "--reason", "no id"], "must look like blk_"],
      [["blocks", "lift", "--reason", "two ids", block.id, block.id], "exactly one block id"],
      [
        ["blocks", "list", "--type", "planet"],
        "--type is one of resident, ip, partner_client, resident_keys",
      ],
      [["blocks", "list", "--everything"], "unknown argument --everything"],
      [["blocks", "unblock"], "unknown command blocks unblock"],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(message);
    }
    expect((await cli(["blocks", "list"])).stdout).toContain(block.id);

    const unknown = await cli(["blocks", "lift", "blk_00000000000000000000", "--reason", "gone"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no such block in force");
    // Production (the CLI's default) lifts nothing without the key its row must be signed with.
    const { AUDIT_SIGNING_KEY_FILE: _key, ...keyless } = env;
    const unsigned = await runCli(["blocks", "lift", block.id, "--reason", "resident called"], {
      env: keyless,
    });
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain("blocks lift: AUDIT_SIGNING_KEY_FILE is unset");
    expect((await cli(["blocks", "list"])).stdout).toContain(block.id);
    const first = await cli(["blocks", "lift", block.id, "--reason", "resident called"]);
    expect(first.code).toBe(0);
    const again = await cli(["blocks", "lift", block.id, "--reason", "resident called"]);
    expect(again.code).toBe(1);
  });
});
