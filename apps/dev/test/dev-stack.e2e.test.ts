import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dataDir = mkdtempSync(join(tmpdir(), "propgate-dev-stack-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Starts `bun run start`'s entry and resolves once it printed its banner. */
async function startStack() {
  const child = Bun.spawn([process.execPath, `${import.meta.dir}/../src/stack.ts`], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: "0",
      ADMIN_PORT: "0",
      LOG_LEVEL: "warn",
      DATABASE_URL: "",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = child.stdout.getReader();
  let output = "";
  while (!output.includes("Ctrl-C stops the stack")) {
    const { value, done } = await reader.read();
    if (done)
      throw new Error(`stack exited early:\n${output}\n${await new Response(child.stderr).text()}`);
    output += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const url = (name: string) =>
    new RegExp(`${name}\\s+(http://127\\.0\\.0\\.1:\\d+)`).exec(output)?.[1] ?? "";
  return { child, output, api: url("api"), issuer: url("dev issuer"), admin: url("admin app") };
}

describe("bun run start (embedded defaults)", () => {
  test("serves the api, prints how to get a token, keeps dev credentials private under DATA_DIR", async () => {
    const first = await startStack();
    try {
      expect(first.api).toStartWith("http://127.0.0.1:");
      expect(first.output).toContain("/dev/token");
      // The admin app is up and sends a newcomer to the dev issuer's sign-in page.
      expect(first.admin).toStartWith("http://127.0.0.1:");
      const login = await fetch(`${first.admin}/auth/login`, { redirect: "manual" });
      expect(login.headers.get("location")).toStartWith(`${first.issuer}/oidc/authorize?`);
      const signInPage = await (await fetch(login.headers.get("location") ?? "")).text();
      expect(signInPage).toContain("Sign in as dev operator");
      expect(statSync(join(dataDir, "admin-oidc-client-secret")).mode & 0o077).toBe(0);
      expect((await fetch(`${first.api}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${first.api}/readyz`)).json()).toEqual({ status: "ready" });

      const { token } = (await (
        await fetch(`${first.issuer}/dev/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ sub: "resident-1", sites: ["site-a"] }),
        })
      ).json()) as { token: string };
      const devices = await fetch(`${first.api}/trpc/devices.list`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(devices.status).toBe(200);
      const body = (await devices.json()) as { result: { data: Array<{ id: string }> } };
      expect(body.result.data.map((device) => device.id).sort()).toEqual([
        "cam-a1",
        "door-a1",
        "door-a2",
        "gate-a",
      ]);

      const credentials = statSync(join(dataDir, "dev-credentials.json"));
      expect(credentials.mode & 0o077).toBe(0);
    } finally {
      first.child.kill("SIGINT");
      expect(await first.child.exited).toBe(0);
    }
    // a second start reuses the stored database and credentials
    const second = await startStack();
    try {
      expect(await (await fetch(`${second.api}/readyz`)).json()).toEqual({ status: "ready" });
    } finally {
      second.child.kill("SIGINT");
      await second.child.exited;
    }
  });
});

describe("bun run demo", () => {
  test("walks a resident through consent, devices, door and gate, and prints the audit rows", async () => {
    const demo = Bun.spawn([process.execPath, `${import.meta.dir}/../src/demo.ts`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const output = await new Response(demo.stdout).text();
    expect(await demo.exited).toBe(0);
    expect(output).toContain("intercom.openDoor door-a1");
    expect(output).toContain('"status": "opened"');
    expect(output).toMatch(/partner\.request\s+intercom\.open\s+door-a1\s+pending/);
    expect(output).toMatch(/partner\.response\s+barrier\.open\s+gate-a\s+success/);
  });
});
