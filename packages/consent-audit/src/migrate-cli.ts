import { ConfigError } from "@propgate/config";
import { openDatabase } from "./database";
import { loadMigrateEnv } from "./migrate-env";
import { checkReadiness, migrateDatabase } from "./migrations";
import { rootMessage } from "./pg-errors";
import { describeDatabaseUrl } from "./url";

// The `migrate` entry (`bun run migrate`): applies the committed migrations to DATABASE_URL.
let env: ReturnType<typeof loadMigrateEnv>;
try {
  env = loadMigrateEnv();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`migrate: ${err.message}`);
  process.exit(2);
}
const { url, ca, password } = env;

let where = "the database";
try {
  where = describeDatabaseUrl(url);
  const handle = await openDatabase({ url, ca, password, max: 1 });
  let outcome: string;
  try {
    const before = await checkReadiness(handle);
    await migrateDatabase(handle);
    const after = await checkReadiness(handle);
    if (!after.ok) throw new Error(after.reason);
    outcome = before.ok ? "already up to date" : "migrated, now up to date";
  } finally {
    await handle.close();
  }
  console.log(`migrate: ${where} ${outcome}`);
} catch (err) {
  const message = rootMessage(err).replace(/\s+/g, " ");
  console.error(`migrate: failed on ${where}: ${redactPassword(message, url, password)}`);
  process.exit(1);
}

/** The message without the URL or either password (the URL's, or DATABASE_PASSWORD_FILE's). */
function redactPassword(text: string, databaseUrl: string, filePassword?: string): string {
  let password = filePassword ?? "";
  try {
    password ||= decodeURIComponent(new URL(databaseUrl).password);
  } catch {}
  const redacted = text.replaceAll(databaseUrl, "[DATABASE_URL]");
  return password === "" ? redacted : redacted.replaceAll(password, "***");
}
