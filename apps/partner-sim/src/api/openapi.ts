import { partnerApiDocument } from "@propgate/partner-client/openapi";
import { Hono } from "hono";
import type { SimEnv } from "../context.ts";

const OPENAPI_PATH = "/openapi.json";

/** `GET /openapi.json`, no token: the partner API this sim implements, as Propgate documents it. */
export function openApiRoutes(): Hono<SimEnv> {
  const document = partnerApiDocument();
  return new Hono<SimEnv>().get(OPENAPI_PATH, (c) => c.json(document));
}
