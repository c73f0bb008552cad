import { readFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "@propgate/config";
import {
  type AuditContext,
  auditVerifyKey,
  CheckpointLogError,
  type Database,
  DeviceRecord,
  type LoggedCheckpoint,
  migrateDatabase,
  openConfiguredDatabase,
  parseCheckpointLog,
  rootMessage,
  UnitRecord,
  upsertDevices,
  upsertUnits,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { z } from "zod";
import { CommandKeyError, commandSigner, withSignedChain } from "./audit-signing.ts";
import { BLOCKS_USAGE, blocksCli } from "./blocks.ts";
import { loadCliEnv, loadRetentionEnv } from "./env.ts";
import { partnerVerifyCli } from "./partner-verify/command.ts";
import { RETENTION_USAGE, retentionCli } from "./retention.ts";
import { securityCheckCli } from "./security-check/command.ts";

const USAGE = `propgate — operator commands

  propgate devices import <file.json>   register or update devices from a JSON array of
                                        { id, kind, siteId, partner, partnerDeviceId, name };
                                        its audit rows signed with AUDIT_SIGNING_KEY_FILE
                                        (required in production)
  propgate units import <file.json>     map flats from a JSON array of
                                        { id, partner, partnerUnitId, siteId }: tenant-core's
                                        unit id (the tokens' units claim) and the partner's id
                                        of that flat (what its call events name); signed as above
  propgate security-check [--help]      audit the deployment's WireGuard, nftables, TLS, secret
                                        and env files; exits 1 on high or critical findings
  propgate audit verify [--json] [--checkpoints <log export>]
                                        recompute every audit chain and its signed checkpoints
                                        (AUDIT_VERIFY_KEY_FILE), and with the key the end of
                                        each chain; --checkpoints: the 'audit checkpoint' lines
                                        of the api's log stream must all be in the database.
                                        Exit 0 intact, 1 tampered (naming the first bad row or
                                        the chains, and why)
  propgate partner verify <intercom|barrier> [--device <id>] [--camera <id>] [--site <id>]
                          [--json] [--help]
                                        check a partner's staging against the contract with
                                        the api's PARTNER_<P>_* settings; exits 1 on a failed
                                        check (no database needed)
${BLOCKS_USAGE}
${RETENTION_USAGE}

Database: DATABASE_URL (PostgreSQL; with sslmode=verify-full, DATABASE_CA_FILE names the CA
that signed the server's certificate; DATABASE_PASSWORD_FILE the file holding the password when
the URL has none), or DATA_DIR for an embedded PGlite that no running stack holds open.`;

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

/** Opens the database the CLI works on: PostgreSQL, or the PGlite of a stopped embedded stack. */
async function openCliDatabase(command: string, env = loadCliEnv()) {
  if (!env.DATABASE_URL && !env.DATA_DIR)
    fail(`${command}: set DATABASE_URL (or DATA_DIR for an embedded PGlite)`);
  const database = await openConfiguredDatabase(env, join(env.DATA_DIR ?? "", "pglite"));
  if (database.kind === "pglite") await migrateDatabase(database);
  return database;
}

function verifyArguments(args: string[]): { json: boolean; checkpoints?: string } {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof VERIFY_OPTIONS; strict: true }>>;
  try {
    parsed = parseArgs({ args, options: VERIFY_OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    fail(
      `audit verify: ${error instanceof Error ? error.message : "bad arguments"}\n\n${USAGE}`,
      2,
    );
  }
  return { json: parsed.values.json ?? false, checkpoints: parsed.values.checkpoints };
}

const VERIFY_OPTIONS = {
  json: { type: "boolean" },
  checkpoints: { type: "string" },
} as const;

/** The checkpoints of a log export (`--checkpoints`): unreadable or malformed stops the command. */
function readCheckpointLog(file: string): LoggedCheckpoint[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    fail(`audit verify: ${file} is not a readable file`);
  }
  try {
    return parseCheckpointLog(text);
  } catch (error) {
    if (error instanceof CheckpointLogError) fail(`audit verify: ${file}: ${error.message}`);
    throw error;
  }
}

async function verifyAudit(args: string[]) {
  const { json, checkpoints } = verifyArguments(args);
  const env = loadCliEnv();
  const keyFile = env.AUDIT_VERIFY_KEY_FILE ?? env.AUDIT_SIGNING_KEY_FILE;
  let publicKey: ReturnType<typeof auditVerifyKey> | undefined;
  if (keyFile) {
    try {
      publicKey = auditVerifyKey(readFileSync(keyFile, "utf8"));
    } catch {
      fail(`audit verify: ${keyFile} does not hold an Ed25519 key (PEM or JWK)`);
    }
  }
  if (checkpoints && !publicKey)
    fail("audit verify: --checkpoints needs the key that checks them (AUDIT_VERIFY_KEY_FILE)", 2);
  const logged = checkpoints ? readCheckpointLog(checkpoints) : undefined;
  const database = await openCliDatabase("audit verify", env);
  const started = performance.now();
  try {
    const verdict = await verifyAuditChain(database.db, { publicKey, logged });
    const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    const signatures = publicKey ? "checked" : "not checked (set AUDIT_VERIFY_KEY_FILE)";
    const stream = logged ? `, ${logged.length} checkpoint(s) of the log stream held` : "";
    if (json)
      console.log(
        JSON.stringify({
          ...verdict,
          signaturesChecked: Boolean(publicKey),
          ...(logged ? { logStreamCheckpoints: logged.length } : {}),
          seconds,
        }),
      );
    else if (verdict.ok) {
      // Rows whose personal fields retention removed, each matching its signed record.
      const redacted = verdict.redacted ? ` (${verdict.redacted} redacted by retention)` : "";
      console.log(
        `audit verify: intact, ${verdict.count} row(s)${redacted}, ${verdict.checkpoints ?? 0} checkpoint(s), signatures ${signatures}${stream}, in ${seconds} s`,
      );
      for (const note of verdict.notes ?? []) console.log(`  note: ${note}`);
    } else if (verdict.firstBadSeq === null)
      console.log(`audit verify: TAMPERED: ${verdict.reason}`);
    else console.log(`audit verify: TAMPERED at row seq ${verdict.firstBadSeq}: ${verdict.reason}`);
    return verdict.ok ? 0 : 1;
  } finally {
    await database.close();
  }
}

/** `devices import` and `units import`: a JSON array, each record checked, one signed batch. */
async function importRecords<T>(
  command: "devices import" | "units import",
  file: string | undefined,
  record: z.ZodType<T>,
  write: (db: Database, records: T[], audit: AuditContext) => Promise<unknown>,
  done: (count: number) => string,
) {
  if (!file) fail(`missing <file.json>\n\n${USAGE}`, 2);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    fail(`${command}: ${file} is not a readable JSON file`);
  }
  const parsed = z.array(record).min(1).max(10_000).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(`${command}: ${file}: record ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  const env = loadCliEnv();
  const signer = commandSigner(command, {
    keyFile: env.AUDIT_SIGNING_KEY_FILE,
    production: env.PROPGATE_ENV === "production",
  });
  const database = await openCliDatabase(command, env);
  try {
    await withSignedChain(database.db, signer, () =>
      write(database.db, parsed.data, {
        sourceApp: "cli",
        instanceId: hostname(),
        actor: `operator:${userInfo().username}`,
      }),
    );
    console.log(`${command}: ${done(parsed.data.length)}`);
  } finally {
    await database.close();
  }
}

try {
  const [group, command, ...rest] = process.argv.slice(2);
  if (group === "devices" && command === "import")
    await importRecords(
      "devices import",
      rest[0],
      DeviceRecord,
      upsertDevices,
      (n) => `${n} device(s) registered`,
    );
  else if (group === "units" && command === "import")
    await importRecords(
      "units import",
      rest[0],
      UnitRecord,
      upsertUnits,
      (n) => `${n} unit(s) mapped`,
    );
  else if (group === "security-check") process.exit(await securityCheckCli(process.argv.slice(3)));
  else if (group === "audit" && command === "verify") process.exit(await verifyAudit(rest));
  else if (group === "partner" && command === "verify") process.exit(await partnerVerifyCli(rest));
  else if (group === "blocks")
    process.exit(
      await blocksCli(
        process.argv.slice(3),
        (name) => openCliDatabase(name),
        (name) => {
          const env = loadCliEnv();
          return commandSigner(name, {
            keyFile: env.AUDIT_SIGNING_KEY_FILE,
            production: env.PROPGATE_ENV === "production",
          });
        },
      ),
    );
  else if (group === "retention") {
    const env = loadCliEnv();
    // Always signed: the redaction re-anchors the chains it touches with signed checkpoints.
    const signer = commandSigner("retention run", {
      keyFile: env.AUDIT_SIGNING_KEY_FILE,
      production: true,
    });
    if (!signer) fail("retention run: AUDIT_SIGNING_KEY_FILE is unset");
    process.exit(
      await retentionCli(process.argv.slice(3), {
        open: (name) => openCliDatabase(name, env),
        signer,
        periods: loadRetentionEnv(),
      }),
    );
  } else fail(USAGE, group ? 2 : 0);
} catch (error) {
  if (error instanceof ConfigError || error instanceof CommandKeyError) fail(error.message);
  // The root of the cause chain: a query wrapper's "Failed query: …" hides why (a refused login).
  fail(`propgate: ${error instanceof Error ? rootMessage(error) : "failed"}`);
}
