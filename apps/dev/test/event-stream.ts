import type { ResidentEvent } from "@propgate/api";
import { createPropgateClient } from "@propgate/client";
import type { Resident, TestStack } from "../src/testing/harness.ts";

/** The e2e tests' view of a resident's live events (`events.onEvent`), as an app has it. */

/** A resident (with `units` in the token when given) who granted `journal`. */
export async function residentWithJournal(
  stack: TestStack,
  sub: string,
  options: { sites?: string[]; units?: string[] } = {},
): Promise<Resident> {
  const resident = await stack.resident(sub, options.sites, options.units);
  const consents = await resident.trpc.consent.list.query();
  const journal = consents.find((consent) => consent.purpose === "journal");
  if (!journal) throw new Error("no journal notice");
  await resident.trpc.consent.grant.mutate({
    purpose: "journal",
    noticeVersion: journal.currentNoticeVersion,
  });
  return resident;
}

type Fetch = typeof globalThis.fetch;

/** `client.events.onEvent` as an app subscribes; what arrived, and the error it ended with. */
export function subscribe(
  url: string,
  token: string,
  input: { lastEventId?: string } = {},
  fetch?: Fetch,
) {
  const client = createPropgateClient({ url, getToken: () => token, fetch });
  const received: Array<{ id: string; data: ResidentEvent }> = [];
  let started = false;
  let error: { data?: { cause?: { code?: string } } } | null = null;
  const subscription = client.events.onEvent.subscribe(input, {
    onStarted: () => {
      started = true;
    },
    onData: (event) => received.push(event),
    onError: (caught) => {
      error = caught as typeof error;
    },
  });
  return {
    received,
    seqs: () => received.map((event) => event.data.seq),
    get started() {
      return started;
    },
    get error() {
      return error;
    },
    stop: () => subscription.unsubscribe(),
  };
}
