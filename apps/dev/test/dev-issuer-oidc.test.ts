import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { decodeJwt } from "jose";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";

/** The dev issuer as the admin app's OpenID Connect provider: what it checks before it issues. */
const CLIENT = {
  clientId: "propgate-admin",
  clientSecret: "dev-oidc-test-secret-0123456789",
  redirectUris: ["http://127.0.0.1:1/auth/callback"],
};
const VERIFIER = "dev-oidc-test-code-verifier-of-at-least-43-characters";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");
let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({
    privateJwk: await generateIssuerKey(),
    audience: "propgate-api",
  });
  issuer.registerClient(CLIENT);
});
afterAll(() => issuer.stop());

function authorizeParams(overrides: Record<string, string> = {}) {
  return new URLSearchParams({
    response_type: "code",
    client_id: CLIENT.clientId,
    redirect_uri: CLIENT.redirectUris[0] as string,
    scope: "openid",
    state: "state-1",
    nonce: "nonce-1",
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    ...overrides,
  });
}

/** Signs in as `account` on the sign-in page's form; the redirect back carries the code. */
async function code(account = "dev-operator"): Promise<string> {
  const params = authorizeParams();
  params.set("account", account);
  const response = await fetch(`${issuer.url}/oidc/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: params,
    redirect: "manual",
  });
  expect(response.status).toBe(303);
  const back = new URL(response.headers.get("location") ?? "");
  expect(back.origin + back.pathname).toBe(CLIENT.redirectUris[0] as string);
  expect(back.searchParams.get("state")).toBe("state-1");
  expect(back.searchParams.get("iss")).toBe(issuer.issuer);
  return back.searchParams.get("code") ?? "";
}

function token(form: Record<string, string>, secret = CLIENT.clientSecret) {
  return fetch(`${issuer.url}/oidc/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`${CLIENT.clientId}:${secret}`)}`,
    },
    body: new URLSearchParams(form),
  });
}

const exchange = (theCode: string, verifier = VERIFIER) =>
  token({
    grant_type: "authorization_code",
    code: theCode,
    redirect_uri: CLIENT.redirectUris[0] as string,
    code_verifier: verifier,
  });

describe("dev issuer as an OpenID Connect provider", () => {
  test("discovery names the endpoints, S256 and the iss response parameter", async () => {
    const metadata = (await (
      await fetch(`${issuer.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(issuer.issuer);
    expect(metadata.token_endpoint).toBe(`${issuer.url}/oidc/token`);
    expect(metadata.code_challenge_methods_supported).toEqual(["S256"]);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
  });

  test("the sign-in page lists the dev operator and the dev viewer", async () => {
    const response = await fetch(`${issuer.url}/oidc/authorize?${authorizeParams()}`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Sign in as dev operator");
    expect(html).toContain("Sign in as dev viewer");
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  test("an unregistered redirect URI is refused on the page, never redirected to", async () => {
    const response = await fetch(
      `${issuer.url}/oidc/authorize?${authorizeParams({ redirect_uri: "http://evil.example/cb" })}`,
      { redirect: "manual" },
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
  });

  test("no PKCE, or plain PKCE, goes back to the client as invalid_request", async () => {
    const cases: Record<string, string>[] = [
      { code_challenge_method: "plain" },
      { code_challenge: "" },
    ];
    for (const overrides of cases) {
      const response = await fetch(`${issuer.url}/oidc/authorize?${authorizeParams(overrides)}`, {
        redirect: "manual",
      });
      expect(response.status).toBe(303);
      expect(new URL(response.headers.get("location") ?? "").searchParams.get("error")).toBe(
        "invalid_request",
      );
    }
  });

  test("the code gives an ID token and an access token the api accepts; once", async () => {
    const theCode = await code("dev-operator");
    const response = await exchange(theCode);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, string>;
    const access = decodeJwt(body.access_token as string);
    expect(access).toMatchObject({
      sub: "dev-operator",
      aud: "propgate-api",
      iss: issuer.issuer,
      roles: ["propgate:operator"],
    });
    const id = decodeJwt(body.id_token as string);
    expect(id).toMatchObject({ sub: "dev-operator", aud: CLIENT.clientId, nonce: "nonce-1" });
    expect(body.refresh_token).toBeString();

    const again = await exchange(theCode);
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: string }).error).toBe("invalid_grant");

    const refreshed = await token({
      grant_type: "refresh_token",
      refresh_token: body.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
    const next = decodeJwt(((await refreshed.json()) as { access_token: string }).access_token);
    expect(next.sub).toBe("dev-operator");
  });

  test("the viewer's access token carries propgate:viewer", async () => {
    const body = (await (await exchange(await code("dev-viewer"))).json()) as Record<
      string,
      string
    >;
    expect(decodeJwt(body.access_token as string).roles).toEqual(["propgate:viewer"]);
  });

  test("a wrong code verifier or client secret is refused", async () => {
    const wrongVerifier = await exchange(await code(), "b".repeat(43));
    expect(wrongVerifier.status).toBe(400);
    expect(((await wrongVerifier.json()) as { error: string }).error).toBe("invalid_grant");

    const theCode = await code();
    const wrongSecret = await token(
      {
        grant_type: "authorization_code",
        code: theCode,
        redirect_uri: CLIENT.redirectUris[0] as string,
        code_verifier: VERIFIER,
      },
      "not-the-secret",
    );
    expect(wrongSecret.status).toBe(401);
    expect(((await wrongSecret.json()) as { error: string }).error).toBe("invalid_client");
  });

  test("/dev/token and mint() still work", async () => {
    const response = await fetch(`${issuer.url}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: "resident-1", sites: ["site-a"] }),
    });
    expect(response.status).toBe(200);
    expect(decodeJwt(await issuer.mint({ sub: "r", sites: [] })).sub).toBe("r");
  });
});
