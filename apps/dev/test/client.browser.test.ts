import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { bundlePageScript } from "@propgate/client/page-script";
import { type Browser, chromium } from "playwright-core";
import { grant, startTestStack, type TestStack } from "../src/testing/harness.ts";

/**
 * `@propgate/client` in a real browser: a page script bundled with Bun.build, served from
 * 127.0.0.1 (which forwards /trpc to the api, as a web app's own origin would), opens a door in
 * Debian's Chromium.
 */
const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI)
    throw new Error(`${CHROMIUM} is missing in CI: run scripts/install-system-tools.sh`);
  console.warn(
    `[skip] client browser test: ${CHROMIUM} not installed (scripts/install-system-tools.sh installs it)`,
  );
}

let stack: TestStack;
let browser: Browser;
let page: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  if (!available) return;
  stack = await startTestStack();
  const script = await bundlePageScript(`${import.meta.dir}/fixtures/client-page.ts`);
  const api = stack.api.url;
  page = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/")
        return new Response(
          '<!doctype html><title>client</title><script src="/client.js"></script>',
          {
            headers: { "content-type": "text/html; charset=utf-8" },
          },
        );
      if (url.pathname === "/client.js")
        return new Response(script, { headers: { "content-type": "text/javascript" } });
      if (url.pathname.startsWith("/trpc/")) {
        const headers = new Headers();
        for (const name of ["authorization", "content-type"]) {
          const value = request.headers.get(name);
          if (value) headers.set(name, value);
        }
        const body = request.method === "GET" ? undefined : await request.text();
        return fetch(`${api}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          body,
        });
      }
      return new Response("not found", { status: 404 });
    },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
});

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await page?.stop(true);
  await stack?.close();
});

describe.skipIf(!available)("@propgate/client in Chromium", () => {
  test("the bundled client lists devices, opens a door and reads a typed error", async () => {
    const resident = await stack.resident("user-client-browser");
    await grant(resident, ["intercom"]);
    const opensBefore = stack.sims.intercom.recorder.opens().length;

    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (error) => errors.push(error.message));
    await tab.goto(page.url.href);
    await tab.waitForFunction(() => "propgateDemo" in window);
    const result = await tab.evaluate(
      ([token, deviceId]) =>
        (
          window as unknown as {
            propgateDemo: { openDoor(token: string, deviceId: string): Promise<unknown> };
          }
        ).propgateDemo.openDoor(token, deviceId),
      [resident.token, "door-a1"] as const,
    );
    await tab.close();

    expect(errors).toEqual([]);
    expect(result).toMatchObject({
      devices: expect.arrayContaining(["door-a1", "gate-a"]),
      opened: { status: "opened", eventId: expect.stringMatching(/^sim_evt_/) },
      refused: { name: "PropgateError", code: "FORBIDDEN_DEVICE", httpStatus: 403 },
      limits: expect.arrayContaining(["resident", "ip"]),
    });
    const opens = stack.sims.intercom.recorder.opens();
    expect(opens.length - opensBefore).toBe(1);
    // The client gave the open its own idempotency key: the partner saw one derived from it.
    expect(opens.at(-1)?.idempotencyKey).toMatch(/^pg_/);
  });
});
