import type { CallHooks, PartnerClient } from "./client.ts";
import { type OpenRequest, OpenResponse } from "./contract.ts";

export interface OpenDeviceInput {
  partnerDeviceId: string;
  subject: string;
  idempotencyKey: string;
  hooks?: CallHooks;
  signal?: AbortSignal;
}

function open(
  client: PartnerClient,
  operation: "intercom.open" | "barrier.open",
  input: OpenDeviceInput,
) {
  const body: OpenRequest = { subject: input.subject };
  return client.call({
    operation,
    pathParam: input.partnerDeviceId,
    body,
    idempotencyKey: input.idempotencyKey,
    response: OpenResponse,
    hooks: input.hooks,
    signal: input.signal,
  });
}

/** Intercom adapter: the operations of the intercom partner's API. */
export function intercomOperations(client: PartnerClient) {
  return { openDoor: (input: OpenDeviceInput) => open(client, "intercom.open", input) };
}

/** Barrier adapter: the operations of the barrier partner's API. */
export function barrierOperations(client: PartnerClient) {
  return { openGate: (input: OpenDeviceInput) => open(client, "barrier.open", input) };
}
