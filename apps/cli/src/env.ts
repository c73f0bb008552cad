import { type EnvSource, parseEnv } from "@propgate/config";
import { z } from "zod";

const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  DATA_DIR: z.string().optional(),
});

/** Settings of the operator CLI. */
export function loadCliEnv(source: EnvSource = process.env) {
  return parseEnv(schema, source);
}
