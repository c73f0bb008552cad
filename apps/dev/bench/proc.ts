import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync } from "bun";
import { spawnChild } from "../src/testing/processes.ts";

const DEV_API = resolve(import.meta.dir, "../src/dev-api.ts");
const BARE_PROXY = resolve(import.meta.dir, "bare-proxy.ts");
const AUDITED_FLOOR = resolve(import.meta.dir, "audited-floor.ts");

const CLK_TCK = (() => {
  const out = spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim();
  const ticks = Number(out);
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

export interface ChildServer {
  url: string;
  pid: number;
  stop(): Promise<number>;
}

/** VmRSS (or another `Vm*` line) of a process, in bytes; null once it has gone. */
export function readVm(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match?.[1] ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** utime + stime of a process in seconds (/proc/<pid>/stat fields 14 and 15). */
export function readCpuSeconds(pid: number, file = `/proc/${pid}/stat`): number | null {
  try {
    const stat = readFileSync(file, "utf8");
    // The command name may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** utime + stime of a process's main thread (the event loop, where JavaScript runs), seconds. */
export function readMainThreadCpuSeconds(pid: number): number | null {
  return readCpuSeconds(pid, `/proc/${pid}/task/${pid}/stat`);
}

async function freePort(): Promise<number> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port ?? 0;
  await probe.stop(true);
  return port;
}

function tail(file: string, lines = 20): string {
  return existsSync(file)
    ? readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n")
    : "";
}

/**
 * One api instance in its own process (`src/dev-api.ts`, settings from env), so its RSS and CPU
 * are its own. Its log goes to a file, not a pipe the bench would have to drain.
 */
export async function startApiProcess(
  env: Record<string, string>,
  options: { logDir: string; name: string; cpuProfileDir?: string },
): Promise<ChildServer> {
  const port = await freePort();
  const logFile = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logFile, "w");
  const profile = cpuProfileFlags(options.cpuProfileDir, options.name);
  const child = Bun.spawn([process.execPath, ...profile, DEV_API], {
    cwd: resolve(import.meta.dir, ".."),
    env: { ...env, HOST: "127.0.0.1", PORT: String(port) },
    stdin: "ignore",
    stdout: fd,
    stderr: fd,
  });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`api child exited (${child.exitCode}):\n${tail(logFile)}`);
    }
    const ready = await fetch(`${url}/readyz`).then(
      (answer) => answer.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`api child not ready within 30 s:\n${tail(logFile)}`);
    }
    await Bun.sleep(100);
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return child.exited;
    },
  };
}

/** `bun --cpu-prof` flags writing `<dir>/<name>.cpuprofile` at the child's exit. */
const cpuProfileFlags = (dir: string | undefined, name: string) =>
  dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];

/**
 * The audited floor (`audited-floor.ts`) in its own process, on the bench database; with
 * `cpuProfile`, under `--cpu-prof`, writing `<dir>/<name>.cpuprofile` at its exit.
 */
export async function startAuditedFloorProcess(
  env: Record<string, string>,
  target: string,
  options: { cpuProfile?: { dir: string; name: string } } = {},
): Promise<ChildServer> {
  const profile = cpuProfileFlags(options.cpuProfile?.dir, options.cpuProfile?.name ?? "");
  const child = spawnChild([process.execPath, ...profile, AUDITED_FLOOR], {
    PATH: process.env.PATH ?? "",
    ...env,
    BENCH_FLOOR_TARGET: target,
  });
  const match = await child.waitFor(/audited floor listening (\S+)/);
  return { url: match[1] ?? "", pid: child.pid, stop: () => child.stop() };
}

export async function startBareProxyProcess(target: string): Promise<ChildServer> {
  const child = spawnChild([process.execPath, BARE_PROXY], {
    PATH: process.env.PATH ?? "",
    BENCH_PROXY_TARGET: target,
  });
  const match = await child.waitFor(/bare proxy listening (\S+)/);
  return { url: match[1] ?? "", pid: child.pid, stop: () => child.stop() };
}

/**
 * CPU seconds per PostgreSQL backend serving `database`, found by its process title
 * (`postgres: … <user> <database> <client> <state>`); only for a server on this machine.
 */
export function postgresBackendCpu(database: string): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${entry}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!title.startsWith("postgres:") || !title.includes(` ${database} `)) continue;
    const seconds = readCpuSeconds(Number(entry));
    if (seconds !== null) cpu.set(Number(entry), seconds);
  }
  return cpu;
}

/** CPU the backends used between two `postgresBackendCpu` readings (new ones from zero). */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}
