import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./throwaway-postgres.ts";

/**
 * A Redis server of the drill's own (its own port, no persistence), to stop and start again:
 * never the machine's shared server.
 */
export interface ThrowawayRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

const REDIS_SERVER = "/usr/bin/redis-server";

export function throwawayRedisUnavailable(): string | null {
  return existsSync(REDIS_SERVER)
    ? null
    : `${REDIS_SERVER} is missing (scripts/install-system-tools.sh)`;
}

export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "propgate-redis-"));
  let child: Subprocess | null = null;
  async function start() {
    child = Bun.spawn(
      [
        REDIS_SERVER,
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ],
      { stdout: "ignore", stderr: "ignore", stdin: "ignore" },
    );
    // Up when it answers PING.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const answered = await ping(port);
      if (answered) return;
      await Bun.sleep(50);
    }
    throw new Error(`redis-server on ${port} did not start`);
  }
  async function stop() {
    const running = child;
    child = null;
    if (!running) return;
    running.kill("SIGKILL");
    await running.exited;
  }
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function ping(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: { data() {}, error() {} },
    });
    socket.end();
    return true;
  } catch {
    return false;
  }
}
