import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";

export interface AdminAppOptions {
  /** Origin of the api; only `/trpc/admin.*` calls are forwarded there. */
  apiUrl: URL;
  /** How to reach the api (tests may pass their own); defaults to the global fetch. */
  fetch?: typeof fetch;
}

const PAGE_DIR = `${import.meta.dir}/page`;

/** One admin procedure per call (httpLink never batches), e.g. `admin.consents.list`. */
const ADMIN_PROCEDURE = /^admin(\.[A-Za-z]{1,64}){1,4}$/;

// The page only talks to its own origin (the proxy below), so the api needs no CORS.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

let bundle: Promise<string> | null = null;

/** Bundles the page script for the browser once, on first use. */
function pageScript(): Promise<string> {
  bundle ??= Bun.build({
    entrypoints: [`${PAGE_DIR}/page.ts`],
    target: "browser",
    minify: true,
  }).then(async (result) => {
    const [output] = result.outputs;
    if (!result.success || !output) throw new Error("building the admin page failed");
    return output.text();
  });
  return bundle;
}

function errorBody(c: Context, status: 404 | 405 | 413 | 500 | 502, code: string, message: string) {
  return c.json({ error: { code, message, requestId: crypto.randomUUID() } }, status);
}

/** The admin web app: one page, its script and style, and a proxy for the api's admin procedures. */
export function createAdminApp(options: AdminAppOptions): Hono {
  const forward = options.fetch ?? fetch;
  const apiOrigin = options.apiUrl.origin;
  const app = new Hono();

  app.use("*", async (c, next) => {
    await next();
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "no-referrer");
    c.header("cache-control", "no-store");
  });

  app.get("/", async (c) => {
    c.header("content-security-policy", CSP);
    return c.html(await Bun.file(`${PAGE_DIR}/index.html`).text());
  });
  app.get("/admin.js", async (c) => {
    c.header("content-type", "text/javascript; charset=utf-8");
    return c.body(await pageScript());
  });
  app.get("/admin.css", async (c) => {
    c.header("content-type", "text/css; charset=utf-8");
    return c.body(await Bun.file(`${PAGE_DIR}/admin.css`).text());
  });

  app.all(
    "/trpc/:procedure",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) => errorBody(c, 413, "PAYLOAD_TOO_LARGE", "request body too large"),
    }),
    async (c) => {
      const procedure = c.req.param("procedure");
      if (!ADMIN_PROCEDURE.test(procedure)) return errorBody(c, 404, "NOT_FOUND", "not found");
      const method = c.req.method;
      if (method !== "GET" && method !== "POST") {
        return errorBody(c, 405, "METHOD_NOT_ALLOWED", "only GET and POST are proxied");
      }
      const target = new URL(`/trpc/${procedure}`, apiOrigin);
      target.search = new URL(c.req.url).search;
      const headers = new Headers();
      const authorization = c.req.header("authorization");
      if (authorization) headers.set("authorization", authorization);
      if (method === "POST") headers.set("content-type", "application/json");
      let upstream: Response;
      try {
        upstream = await forward(target, {
          method,
          headers,
          body: method === "POST" ? await c.req.arrayBuffer() : undefined,
          redirect: "manual",
        });
      } catch {
        return errorBody(c, 502, "API_UNREACHABLE", "the api could not be reached");
      }
      const responseHeaders = new Headers({
        "content-type": upstream.headers.get("content-type") ?? "application/json",
      });
      const requestId = upstream.headers.get("x-request-id");
      if (requestId) responseHeaders.set("x-request-id", requestId);
      return new Response(upstream.body, { status: upstream.status, headers: responseHeaders });
    },
  );

  app.notFound((c) => errorBody(c, 404, "NOT_FOUND", "not found"));
  app.onError((_error, c) => errorBody(c, 500, "INTERNAL", "internal error"));
  return app;
}
