import { bundlePageScript } from "@propgate/client/page-script";
import type { Env, Hono } from "hono";

const PAGE_DIR = `${import.meta.dir}/video-page`;

let bundle: Promise<string> | null = null;

/** Bundles the page script for the browser once, on first use. */
function pageScript(): Promise<string> {
  bundle ??= bundlePageScript(`${PAGE_DIR}/page.ts`);
  return bundle;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "style-src 'unsafe-inline'",
  "media-src 'self' blob:",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** `/dev/video`: watch a camera from a browser on the embedded default (development only). */
export function mountVideoPage<E extends Env>(app: Hono<E>) {
  app.get("/dev/video", async (c) => {
    c.header("content-security-policy", CSP);
    c.header("cache-control", "no-store");
    return c.html(await Bun.file(`${PAGE_DIR}/index.html`).text());
  });
  app.get("/dev/video.js", async (c) => {
    c.header("content-type", "text/javascript; charset=utf-8");
    c.header("cache-control", "no-store");
    return c.body(await pageScript());
  });
}
