import { PropgateError } from "../src/index.ts";

/** The PropgateError a call fails with; anything else, or no failure, fails the test. */
export async function failure(promise: Promise<unknown>): Promise<PropgateError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PropgateError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}
