import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Subprocess } from "bun";

/** A child process whose stdout/stderr lines are collected; `waitFor` resolves on a line match. */
export interface Child {
  process: Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  lines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<number>;
}

export function spawnChild(argv: string[], env: Record<string, string>): Child {
  const child = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      for (const wake of waiters) wake();
    }
    if (rest) lines.push(rest);
    for (const wake of waiters) wake();
  };
  void pump(child.stdout);
  void pump(child.stderr);
  return {
    process: child,
    pid: child.pid,
    lines,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${lines.join("\n")}`),
          );
        }, timeoutMs);
        const check = () => {
          for (const line of lines) {
            const match = pattern.exec(line);
            if (match) {
              clearTimeout(timer);
              waiters.delete(check);
              resolve(match);
              return;
            }
          }
          if (child.exitCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(
              new Error(
                `process exited (${child.exitCode}) before ${pattern}:\n${lines.join("\n")}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return child.exited;
    },
  };
}

/** Socket inodes of the UDP sockets a process holds (from /proc: fds joined with /proc/net/udp*). */
export function udpSocketsOf(pid: number): Array<{ address: string; port: number }> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // the fd closed while we looked
    }
  }
  const sockets: Array<{ address: string; port: number }> = [];
  for (const table of ["udp", "udp6"]) {
    const rows = readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1);
    for (const row of rows) {
      const columns = row.trim().split(/\s+/);
      const [hexAddress, hexPort] = (columns[1] ?? ":").split(":");
      if (!inodes.has(columns[9] ?? "")) continue;
      const address =
        table === "udp" && hexAddress
          ? (hexAddress.match(/../g) ?? [])
              .reverse()
              .map((byte) => Number.parseInt(byte, 16))
              .join(".")
          : (hexAddress ?? "");
      sockets.push({ address, port: Number.parseInt(hexPort ?? "0", 16) });
    }
  }
  return sockets;
}

/** Runs `argv` to its end: the exit code and what it printed (stdout, then stderr), trimmed. */
export async function runToExit(argv: string[], env: Record<string, string>) {
  const child = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, output: `${out}${err}`.trim() };
}
