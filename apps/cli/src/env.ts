import { type EnvSource, parseEnv } from "@propgate/config";
import { z } from "zod";

const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  DATA_DIR: z.string().optional(),
  /** The key that checks audit checkpoints: the public key, or the api's signing key itself. */
  AUDIT_VERIFY_KEY_FILE: z.string().min(1).optional(),
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
});

/** Settings of the operator CLI. */
export function loadCliEnv(source: EnvSource = process.env) {
  return parseEnv(schema, source);
}
