import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dataDir = mkdtempSync(join(tmpdir(), "propgate-dev-stack-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Starts `bun run start`'s entry and resolves once it printed its banner. */
async function startStack(env: Record<string, string> = {}) {
  const child = Bun.spawn([process.execPath, `${import.meta.dir}/../src/stack.ts`], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: "0",
      ADMIN_PORT: "0",
      LOG_LEVEL: "warn",
      DATABASE_URL: "",
      ...env,
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
          body: JSON.stringify({ sub: "resident-1", sites: ["site-a"], units: ["unit-a-42"] }),
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

      // The banner's resident events walk: grant journal, the intercom sim rings flat 42, the
      // journal holds the ring with the camera to watch.
      const trpc = (path: string, input?: unknown) =>
        fetch(`${first.api}/trpc/${path}`, {
          method: input === undefined ? "GET" : "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: input === undefined ? undefined : JSON.stringify(input),
        });
      expect((await trpc("consent.grant", { purpose: "journal", noticeVersion: 1 })).status).toBe(
        200,
      );
      const ringAt = /curl -s -X POST (http:\/\/127\.0\.0\.1:\d+\/admin\/calls)/.exec(
        first.output,
      )?.[1];
      const ring = await fetch(ringAt ?? "", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ deviceId: "ic-a1", unitId: "42", cameraId: "cam-a1" }),
      });
      expect(((await ring.json()) as { status: number }).status).toBe(202);
      const journal = (await (await trpc("events.list")).json()) as {
        result: { data: { entries: Array<{ kind: string; cameraId: string | null }> } };
      };
      expect(journal.result.data.entries).toMatchObject([
        { kind: "call.incoming", cameraId: "cam-a1" },
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

type Health = { partner: string; check: string; state: string }[];

/** Polls `read` until `holds`; fails naming `what` past `ms` (each poll is one api call). */
async function eventually<T>(
  read: () => Promise<T>,
  holds: (value: T) => boolean,
  what: string,
  ms: number,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`not within ${ms} ms: ${what}: ${JSON.stringify(value)}`);
    await Bun.sleep(100); // a poll interval, not a wait for state
  }
}

describe("bun run start's health probe", () => {
  test("partner health is live: both partners green within a probe interval, intercom red after its health fails", async () => {
    const intervalMs = 1000;
    const stack = await startStack({ PROBE_INTERVAL_MS: String(intervalMs) });
    try {
      expect(stack.output).toMatch(/health probe\s+http:\/\/127\.0\.0\.1:\d+\/metrics/);
      const { token } = (await (
        await fetch(`${stack.issuer}/dev/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ sub: "health-watcher", sites: [], admin: true }),
        })
      ).json()) as { token: string };
      // What the admin app's partner health screen shows (`admin.partners.health`).
      const health = async (): Promise<Health> => {
        const input = encodeURIComponent(JSON.stringify({ transitions: 10 }));
        const response = await fetch(`${stack.api}/trpc/admin.partners.health?input=${input}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return ((await response.json()) as { result: { data: { checks: Health } } }).result.data
          .checks;
      };
      const green = (partner: string) => (checks: Health) => {
        const own = checks.filter((check) => check.partner === partner);
        return own.length > 0 && own.every((check) => check.state === "ok");
      };
      // The first round runs at start: green within one interval of the banner (and a margin
      // for the round's own calls on a shared machine).
      await eventually(
        health,
        (checks) => green("intercom")(checks) && green("barrier")(checks),
        "both partners green",
        intervalMs + 4000,
      );

      const faults =
        /intercom sim.*fault injection: (http:\/\/127\.0\.0\.1:\d+\/admin\/faults)/.exec(
          stack.output,
        )?.[1];
      const put = await fetch(faults ?? "", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ errorRate: 1, errorStatus: 503 }),
      });
      expect(put.status).toBe(200);
      const red = await eventually(
        health,
        (checks) => checks.some((check) => check.partner === "intercom" && check.state !== "ok"),
        "intercom red",
        intervalMs * 2 + 4000,
      );
      expect(green("barrier")(red)).toBe(true);
    } finally {
      stack.child.kill("SIGINT");
      expect(await stack.child.exited).toBe(0);
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
    expect(output).toContain("the intercom sim rang flat 42 at ic-a1 (Propgate answered 202)");
    expect(output).toContain('"kind": "call.incoming"');
  });
});
