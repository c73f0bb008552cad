import { readFileSync } from "node:fs";
import type { z } from "zod";

export type EnvSource = Record<string, string | undefined>;

/**
 * A bad or missing setting. The message names the variable and what is wrong with it, and
 * never repeats its value (it may be a secret).
 */
export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`config: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses `env` with a zod object schema whose keys are variable names. Empty strings count as
 * unset. The first problem becomes a ConfigError naming the variable.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: EnvSource): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const variable = String(issue?.path[0] ?? "environment");
  const problem =
    issue?.code === "invalid_type" && input[variable] === undefined
      ? "is missing"
      : `is invalid: ${issue?.message ?? "bad value"}`;
  throw new ConfigError(variable, problem);
}

/** The text of the file a `*_FILE` variable names; unreadable is a ConfigError naming it. */
export function readConfigFile(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(variable, "points at a file that cannot be read");
  }
}
