import type { z } from "zod";
import { InvalidInputError } from "./errors";

/** Parses `value` with `schema`, turning zod issues into one `InvalidInputError`. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new InvalidInputError(
      `invalid ${what}`,
      result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    );
  }
  return result.data;
}
