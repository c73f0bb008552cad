import { expect } from "bun:test";

/**
 * The admin app's sign-in driven with fetch, as a browser would drive it through the dev
 * issuer's sign-in page (admin-sign-in.e2e.test.ts, admin-replicas.e2e.test.ts, image.container.test.ts).
 */

/** A browser's cookies for one origin: what `Set-Cookie` answers left, sent back as `Cookie`. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      if (attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute)))
        this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(at + 1).trim());
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  /** Another browser holding the same cookies now (a cookie kept after it was deleted here). */
  copy(): CookieJar {
    const copy = new CookieJar();
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }
}

/** The dev issuer's sign-in page, `account` picked: the redirect back to the callback. */
export async function pickAccount(
  issuerUrl: string,
  authorize: URL,
  account = "dev-operator",
): Promise<URL> {
  const form = new URLSearchParams(authorize.searchParams);
  form.set("account", account);
  const response = await fetch(`${issuerUrl}/oidc/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
    redirect: "manual",
  });
  expect(response.status).toBe(303);
  return new URL(response.headers.get("location") ?? "");
}
