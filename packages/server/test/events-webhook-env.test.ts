import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEventsWebhookSettings } from "../src/events-webhook-env.ts";

const dir = mkdtempSync(join(tmpdir(), "webhook-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secret = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
const secretFile = join(dir, "secret");
writeFileSync(secretFile, `${secret}\n`);

const dev = { production: false };
const production = { production: true };

describe("EVENTS_WEBHOOK_*", () => {
  test("unset, the relay is off: no settings, so no outbox rows and no worker", () => {
    expect(loadEventsWebhookSettings({ EVENTS_WEBHOOK_SECRET_FILE: secretFile }, dev)).toBeNull();
  });

  test("the secret is read from its file, trimmed; the back-off and deadline have defaults", () => {
    const settings = loadEventsWebhookSettings(
      {
        EVENTS_WEBHOOK_URL: "https://tenant-core.example/hooks",
        EVENTS_WEBHOOK_SECRET_FILE: secretFile,
      },
      production,
    );
    expect(settings).toMatchObject({
      secret,
      timeoutMs: 5000,
      retry: { baseRetrySeconds: 1, maxRetrySeconds: 300 },
    });
    expect(String(settings?.url)).toBe("https://tenant-core.example/hooks");
  });

  test("production takes https only; elsewhere plain http to loopback too", () => {
    const env = {
      EVENTS_WEBHOOK_URL: "http://127.0.0.1:8999/hooks",
      EVENTS_WEBHOOK_SECRET_FILE: secretFile,
    };
    expect(loadEventsWebhookSettings(env, dev)?.url.port).toBe("8999");
    expect(() => loadEventsWebhookSettings(env, production)).toThrow(
      "config: EVENTS_WEBHOOK_URL is invalid: must be https in production",
    );
    expect(() =>
      loadEventsWebhookSettings({ ...env, EVENTS_WEBHOOK_URL: "http://tenant-core.example/" }, dev),
    ).toThrow("must be https (plain http only for loopback)");
  });

  test("production refuses the secret inline, never echoing it", () => {
    const env = {
      EVENTS_WEBHOOK_URL: "https://tenant-core.example/",
      EVENTS_WEBHOOK_SECRET: secret,
    };
    expect(loadEventsWebhookSettings(env, dev)?.secret).toBe(secret);
    let message = "";
    try {
      loadEventsWebhookSettings(env, production);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("EVENTS_WEBHOOK_SECRET is refused in production");
    expect(message).not.toContain(secret);
  });

  test("a URL without a secret, or a secret not whsec_ of 24-64 bytes, stops startup", () => {
    const url = "https://tenant-core.example/";
    expect(() => loadEventsWebhookSettings({ EVENTS_WEBHOOK_URL: url }, dev)).toThrow(
      "EVENTS_WEBHOOK_SECRET_FILE is missing",
    );
    for (const bad of ["not-a-secret", `whsec_${Buffer.alloc(8).toString("base64")}`]) {
      expect(() =>
        loadEventsWebhookSettings({ EVENTS_WEBHOOK_URL: url, EVENTS_WEBHOOK_SECRET: bad }, dev),
      ).toThrow("config: EVENTS_WEBHOOK_SECRET is invalid");
    }
  });
});
