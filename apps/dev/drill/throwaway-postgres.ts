import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A PostgreSQL server of the test's own (its own data folder and port), for drills that stop
 * the database: never the machine's shared server. Null (with the reason) when this machine has
 * no server binaries.
 */
export interface ThrowawayPostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

function serverBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function run(command: string[]): Promise<void> {
  // initdb and postgres refuse to run as root: as root, run them as the postgres user.
  const argv = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...command] : command;
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  if (code !== 0) throw new Error(`${command[0]} failed (${code}): ${out}${err}`);
}

export function throwawayPostgresUnavailable(): string | null {
  if (!serverBin()) return "no PostgreSQL server binaries under /usr/lib/postgresql";
  return null;
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = serverBin();
  if (!bin) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql");
  const dir = mkdtempSync(join(tmpdir(), "propgate-pg-"));
  const data = join(dir, "data");
  if (process.getuid?.() === 0) {
    const passwd = await Bun.file("/etc/passwd").text();
    const entry = passwd.split("\n").find((line) => line.startsWith("postgres:"));
    const [, , uid, gid] = entry?.split(":") ?? [];
    chownSync(dir, Number(uid), Number(gid));
  }
  chmodSync(dir, 0o700);
  const port = await freePort();
  await run([join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () =>
    run([join(bin, "pg_ctl"), "-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]);
  const stop = () => run([join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    async destroy() {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
