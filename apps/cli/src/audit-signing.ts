import { readFileSync } from "node:fs";
import {
  type AuditSigner,
  createAuditSigner,
  type Database,
  signProcessChain,
} from "@propgate/consent-audit";

/**
 * The signer of a command that writes audit rows: the api's key (AUDIT_SIGNING_KEY_FILE), so the
 * command's chain is signed like an instance's and `audit verify` with the key accepts it.
 * Without one production refuses (rows no checkpoint covers are reported for ever); elsewhere
 * the rows go unsigned, with a warning. A file that holds no private key is an error.
 */
export function commandSigner(
  command: string,
  env: { keyFile: string | undefined; production: boolean },
): AuditSigner | null {
  if (!env.keyFile) {
    const problem = `${command}: AUDIT_SIGNING_KEY_FILE is unset: the audit rows this writes would carry no signed checkpoint, and \`audit verify\` with the key would report their chain`;
    if (env.production) throw new CommandKeyError(problem);
    console.error(`warning: ${problem}`);
    return null;
  }
  try {
    return createAuditSigner(readFileSync(env.keyFile, "utf8"));
  } catch {
    throw new CommandKeyError(
      `${command}: AUDIT_SIGNING_KEY_FILE ${env.keyFile} does not hold an Ed25519 private key (PEM or JWK)`,
    );
  }
}

export class CommandKeyError extends Error {}

/**
 * Runs `write` with this process's chain signed (each append signs it), then closes the chain:
 * a command's chain ends with a closing checkpoint like an instance's.
 */
export async function withSignedChain<T>(
  db: Database,
  signer: AuditSigner | null,
  write: () => Promise<T>,
): Promise<T> {
  if (!signer) return write();
  const signing = signProcessChain(db, signer);
  try {
    return await write();
  } finally {
    await signing.release();
  }
}
