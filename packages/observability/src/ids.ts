import { newId } from "@propgate/domain";

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Keeps a caller's `X-Request-Id` when it is sane, otherwise makes a new one. */
export function acceptOrCreateRequestId(incoming: string | null | undefined): string {
  return incoming && INCOMING_REQUEST_ID.test(incoming) ? incoming : newId("req");
}
