import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { createPartnerTokenSource, type PartnerCredentials } from "../src/index.ts";

/** A partner's OAuth server on 127.0.0.1: RFC 8414 metadata and a token endpoint that records. */
const requests: { path: string; authorization: string | null; scope: string | null }[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const { origin, pathname } = new URL(request.url);
    if (pathname === "/.well-known/oauth-authorization-server")
      return Response.json({ issuer: origin, token_endpoint: `${origin}/discovered/token` });
    const form = new URLSearchParams(await request.text());
    requests.push({
      path: pathname,
      authorization: request.headers.get("authorization"),
      scope: form.get("scope"),
    });
    return Response.json({ access_token: `token-${requests.length}`, token_type: "Bearer" });
  },
});
const origin = `http://127.0.0.1:${server.port}`;
afterAll(() => server.stop(true));
beforeEach(() => {
  requests.length = 0;
});

const credentials = (
  urls: Pick<PartnerCredentials, "issuer" | "tokenUrl">,
): PartnerCredentials => ({
  name: "intercom",
  clientId: "propgate",
  clientSecret: "s3cret",
  ...urls,
});
const basic = `Basic ${btoa("propgate:s3cret")}`;

describe("createPartnerTokenSource", () => {
  test("asks the settings' token URL with their client id and secret, for the scope asked", async () => {
    const tokens = createPartnerTokenSource(
      credentials({ issuer: null, tokenUrl: new URL(`${origin}/oauth/token`) }),
      { fetch, allowInsecureLoopback: true },
    );
    expect(await tokens.getToken(["health.read"])).toBe("token-1");
    expect(requests).toEqual([
      { path: "/oauth/token", authorization: basic, scope: "health.read" },
    ]);
  });

  test("without a token URL, the settings' issuer is discovered", async () => {
    const tokens = createPartnerTokenSource(
      credentials({ issuer: new URL(origin), tokenUrl: null }),
      { fetch, allowInsecureLoopback: true },
    );
    expect(await tokens.getToken(["intercom.open"])).toBe("token-1");
    expect(requests).toEqual([
      { path: "/discovered/token", authorization: basic, scope: "intercom.open" },
    ]);
  });
});
