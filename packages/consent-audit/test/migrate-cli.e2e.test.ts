import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { checkReadiness } from "../src/index";
import { databasesPerTest } from "./fixtures";

// The migrate entry as a process: the heavy lane (each run starts Bun and connects anew).
setDefaultTimeout(30_000);

const fresh = databasesPerTest();

describe("migrate CLI", () => {
  const cli = new URL("../src/migrate-cli.ts", import.meta.url).pathname;

  async function run(env: Record<string, string | undefined>) {
    const proc = Bun.spawn([process.execPath, cli], {
      env: { PATH: process.env.PATH, ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, output: (stdout + stderr).trim() };
  }

  test("without DATABASE_URL it exits non-zero with one line naming the variable", async () => {
    const { code, output } = await run({});
    expect(code).not.toBe(0);
    expect(output.split("\n")).toHaveLength(1);
    expect(output).toContain("DATABASE_URL");
  });

  test("on failure it exits non-zero and never prints the password", async () => {
    const { code, output } = await run({
      DATABASE_URL: "postgres://propgate:s3cret-pw@127.0.0.1:1/nowhere",
    });
    expect(code).toBe(1);
    expect(output.split("\n")).toHaveLength(1);
    expect(output).not.toContain("s3cret-pw");
    expect(output).toContain("127.0.0.1:1/nowhere");
  });

  test.if(process.env.DATABASE_URL !== undefined)(
    "migrates a PostgreSQL database and prints one line",
    async () => {
      const handle = await fresh({ migrate: false });
      const first = await run({ DATABASE_URL: handle.url });
      expect(first.code).toBe(0);
      expect(first.output.split("\n")).toHaveLength(1);
      expect(await checkReadiness(handle)).toEqual({ ok: true });
      const second = await run({ DATABASE_URL: handle.url });
      expect(second.code).toBe(0);
    },
  );
});
