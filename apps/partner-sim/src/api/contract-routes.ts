import {
  matchPath,
  OPERATIONS,
  type OperationName,
  PARTNER_OPERATIONS,
} from "@propgate/partner-client/contract";
import type { Handler, Hono } from "hono";
import type { SimEnv } from "../context.ts";
import { apiError } from "./answers.ts";

/**
 * The sim serves the contract's operations where `OPERATIONS` puts them: each method and path
 * template comes from there (`{deviceId}` → Hono's `:deviceId`), never typed again here.
 */

/** A contract path template as a Hono route pattern. */
export function honoPath(template: string): string {
  return template.replace(/\{([A-Za-z]+)\}/g, ":$1");
}

/** Serves `operation` at its method and path. */
export function serve(app: Hono<SimEnv>, operation: OperationName, handler: Handler<SimEnv>) {
  const { method, path } = OPERATIONS[operation];
  app.on(method, honoPath(path), handler);
}

/**
 * Answers any other method at the path `operations` share with 405, `Allow` naming theirs — the
 * operations listed first to last, as `serve`d.
 */
export function refuseOtherMethods(
  app: Hono<SimEnv>,
  ...operations: [OperationName, ...OperationName[]]
) {
  const [first] = operations;
  const { path } = OPERATIONS[first];
  if (operations.some((operation) => OPERATIONS[operation].path !== path)) {
    throw new Error(`${operations.join(", ")} do not share one path`);
  }
  const methods = operations.map((operation) => OPERATIONS[operation].method);
  app.all(honoPath(path), (c) =>
    apiError(c, 405, "method_not_allowed", `use ${methods.join(" or ")}`, {
      Allow: methods.join(", "),
    }),
  );
}

/**
 * The contract operation a request path is for: by its path, and by its method where several
 * operations share one (HEAD counting as GET); null for none.
 */
export function operationAt(method: string, path: string): OperationName | null {
  const here = PARTNER_OPERATIONS.filter((name) => matchPath(OPERATIONS[name].path, path));
  if (here.length <= 1) return here[0] ?? null;
  const asked = method === "HEAD" ? "GET" : method;
  return here.find((name) => OPERATIONS[name].method === asked) ?? null;
}
