import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { discoverAuthorizationServer } from "../src/index.ts";

/**
 * Discovery against an identity server on 127.0.0.1: RFC 8414 first, OpenID Connect discovery
 * only when RFC 8414's path answers a 4xx. `answers` says what each well-known path serves.
 */
const answers = new Map<string, () => Response>();
const asked: string[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const { pathname } = new URL(request.url);
    asked.push(pathname);
    return answers.get(pathname)?.() ?? Response.json({ error: "not_found" }, { status: 404 });
  },
});
afterAll(() => server.stop(true));
beforeEach(() => {
  answers.clear();
  asked.length = 0;
});

const origin = `http://127.0.0.1:${server.port}`;
const metadata = (issuer: string) => () =>
  Response.json({ issuer, token_endpoint: `${origin}/oauth/token` });
const discover = (issuer: string) =>
  discoverAuthorizationServer(new URL(issuer), {
    fetch,
    allowInsecureLoopback: true,
    requestTimeoutMs: 2000,
  });

describe("discoverAuthorizationServer", () => {
  test("RFC 8414 metadata is used when served; OpenID Connect discovery is not asked", async () => {
    answers.set("/.well-known/oauth-authorization-server", metadata(origin));
    answers.set("/.well-known/openid-configuration", metadata(origin));
    expect((await discover(origin)).token_endpoint).toBe(`${origin}/oauth/token`);
    expect(asked).toEqual(["/.well-known/oauth-authorization-server"]);
  });

  test("RFC 8414's path not served (404): OpenID Connect discovery, at the issuer's own path", async () => {
    const issuer = `${origin}/realms/partner`;
    answers.set("/realms/partner/.well-known/openid-configuration", metadata(issuer));
    expect((await discover(issuer)).issuer).toBe(issuer);
    expect(asked).toEqual([
      "/.well-known/oauth-authorization-server/realms/partner",
      "/realms/partner/.well-known/openid-configuration",
    ]);
  });

  test("a 5xx at RFC 8414's path fails at once: a broken server, not a missing document", async () => {
    answers.set(
      "/.well-known/oauth-authorization-server",
      () => new Response(null, { status: 503 }),
    );
    answers.set("/.well-known/openid-configuration", metadata(origin));
    await expect(discover(origin)).rejects.toThrow("unexpected HTTP status code");
    expect(asked).toEqual(["/.well-known/oauth-authorization-server"]);
  });

  test("OpenID Connect metadata naming another issuer is refused", async () => {
    answers.set("/.well-known/openid-configuration", metadata("https://elsewhere.example"));
    await expect(discover(origin)).rejects.toThrow('"issuer" property does not match');
  });

  test("neither served: refused, after asking both", async () => {
    await expect(discover(origin)).rejects.toThrow("unexpected HTTP status code");
    expect(asked).toEqual([
      "/.well-known/oauth-authorization-server",
      "/.well-known/openid-configuration",
    ]);
  });
});
