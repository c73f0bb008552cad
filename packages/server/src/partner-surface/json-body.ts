import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import type { SurfaceContext, SurfaceEnv } from "./context.ts";
import { PartnerSurfaceError } from "./errors.ts";

/** Refuses bodies above `maxSize` bytes with a 400 in the surface's error shape. */
export function limitBody(maxSize: number): MiddlewareHandler<SurfaceEnv> {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new PartnerSurfaceError(400, "INVALID_INPUT", `body larger than ${maxSize} bytes`);
    },
  });
}

/**
 * The request's JSON body checked against a strict schema. Anything else — another content
 * type, broken JSON, unknown or missing fields — is a 400 naming the field, never a 500.
 */
export async function readJsonBody<T extends z.ZodType>(
  c: SurfaceContext,
  schema: T,
): Promise<z.output<T>> {
  if (!/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
    throw new PartnerSurfaceError(400, "INVALID_INPUT", "the body must be application/json");
  }
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new PartnerSurfaceError(400, "INVALID_INPUT", "the body is not valid JSON");
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`);
  throw new PartnerSurfaceError(400, "INVALID_INPUT", `invalid body: ${problems.join("; ")}`);
}
