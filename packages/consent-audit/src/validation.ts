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

/**
 * Plain checks for the few inputs parsed on every partner request (`checkedAttempt` and its
 * kin): each accepts what its zod schema accepts or less, and whatever it refuses goes to
 * `parseInput`, which accepts it after all or names what is wrong.
 */
export const isText = (value: unknown, min: number, max: number): value is string =>
  typeof value === "string" && value.length >= min && value.length <= max;

/** `z.number().int().min(min).max(max)`. */
export const isIntIn = (value: unknown, min: number, max: number): value is number =>
  Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;

/** A plain object whose keys are all in `keys` (a strict object's unknown keys are refused). */
export function hasOnlyKeys(value: unknown, keys: ReadonlySet<string>): value is object {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  for (const key in value) if (!keys.has(key)) return false;
  return true;
}
