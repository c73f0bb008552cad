import { httpSubscriptionLink, type TRPCLink } from "@trpc/client";
import { EventSource, type FetchLike, type FetchLikeResponse } from "eventsource";
import type { AppRouter } from "./app-router.ts";

export interface SubscriptionLinkOptions {
  /** `<api>/trpc`. */
  url: string;
  /** The resident's token, read before each (re)connection; null sends none. */
  token: () => Promise<string | null>;
  /** The other request headers, read before each (re)connection. */
  headers: () => Promise<Record<string, string>>;
  credentials?: "omit" | "same-origin" | "include";
  /** The client's `fetch` option (default: the global one); it must answer a fetch `Response`. */
  fetch?: (input: string, init: RequestInit) => Promise<unknown>;
}

/**
 * Subscriptions (`events.onEvent`) over Server-Sent Events. A browser's EventSource sends no
 * headers, so the `eventsource` package's (WhatWG-conformant, on fetch) does: every connection,
 * reconnections included, asks for the token and headers again, and sends `Last-Event-ID`.
 */
export function subscriptionLink(options: SubscriptionLinkOptions): TRPCLink<AppRouter> {
  const connect: FetchLike = async (url, init) => {
    const [token, extra] = await Promise.all([options.token(), options.headers()]);
    const rest = Object.entries(extra).filter(([name]) => name.toLowerCase() !== "authorization");
    const headers: Record<string, string> = {
      ...Object.fromEntries(rest),
      ...init.headers,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
    const fetch = options.fetch ?? globalThis.fetch;
    const response = await fetch(String(url), {
      ...init,
      headers,
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    // tRPC types a custom fetch's answer loosely; a real fetch's Response has all EventSource reads.
    return response as FetchLikeResponse;
  };
  return httpSubscriptionLink<AppRouter, typeof EventSource>({
    url: options.url,
    EventSource,
    eventSourceOptions: () => ({ fetch: connect }),
  });
}
