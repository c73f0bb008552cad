import { createTRPCClient, httpLink, splitLink, type TRPCClient } from "@trpc/client";
import type { AppRouter } from "./app-router.ts";
import type { PropgateError } from "./errors.ts";
import type { RateLimitState } from "./headers.ts";
import { type GetToken, propgateLink, type RetryPolicy, TOKEN_CONTEXT_KEY } from "./link.ts";
import { subscriptionLink } from "./subscription-link.ts";

type HttpLinkFetch = NonNullable<Parameters<typeof httpLink<AppRouter>>[0]["fetch"]>;

/** Headers sent with every request, or a function read before each one (a CSRF token read later). */
export type ExtraHeaders =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

export interface PropgateClientOptions {
  /** The api's base URL (`https://api.propgate.example`); calls go to `<url>/trpc`. `""`: this page's origin. */
  url: string;
  /**
   * The resident's access token. Called before every request; with `{ refresh: true }` once
   * after an `UNAUTHORIZED` answer, and the call is then sent again. Null sends no token.
   * Left out (session mode: a gateway holds the token, the browser sends its cookie): no
   * `Authorization` header, and an `UNAUTHORIZED` is the error.
   */
  getToken?: GetToken;
  /** More request headers (`x-csrf-token`); `authorization` from `getToken` wins over theirs. */
  headers?: ExtraHeaders;
  /** The fetch's `credentials` (`"same-origin"`: send this origin's cookies); default the fetch's. */
  credentials?: "omit" | "same-origin" | "include";
  /**
   * Told when a gateway answers `401` with `SESSION_REQUIRED` (its session is missing or over),
   * before the call fails with that error: sign in again.
   */
  onSessionRequired?: (error: PropgateError) => void;
  /** The fetch to use (default: the global one: browsers, React Native, Bun). */
  fetch?: HttpLinkFetch;
  /** Retries of safe calls after `429`/`503` (default: 1 retry, waits of at most 5 s). */
  retry?: Partial<RetryPolicy>;
  /** Makes the idempotency key of an open the caller gave none to (default: 128 random bits). */
  newIdempotencyKey?: () => string;
  /** Told the rate limits of every answer (also readable as `client.$rateLimit`). */
  onRateLimit?: (state: RateLimitState) => void;
}

/** The typed tRPC client of the api, with the rate limits of its last answer. */
export type PropgateClient = TRPCClient<AppRouter> & {
  /** The `RateLimit`/`RateLimit-Policy` fields of the last answer, parsed; null before any. */
  readonly $rateLimit: RateLimitState | null;
};

const HEX = "0123456789abcdef";

/**
 * `app_` + 32 hex digits. `crypto.getRandomValues` where the platform has it (browsers, Bun,
 * React Native with react-native-get-random-values); else Math.random, which is enough here:
 * the api scopes a key to its resident and device, and a key only has to differ between taps.
 */
function randomIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  if (typeof globalThis.crypto?.getRandomValues === "function") {
    globalThis.crypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  let key = "app_";
  for (const byte of bytes) key += (HEX[byte >> 4] ?? "") + (HEX[byte & 15] ?? "");
  return key;
}

/** The fetch with the options' `credentials`; the global one looked up per call, on `globalThis`. */
function fetchWith(options: PropgateClientOptions): HttpLinkFetch | undefined {
  const { credentials, fetch: given } = options;
  if (!credentials) return given;
  return (input, init) =>
    given
      ? given(input, { ...init, credentials })
      : globalThis.fetch(input, { ...init, credentials });
}

/**
 * A client of the api for web and React Native apps with a resident's token, and for a page
 * behind a session gateway (the admin app) without one (see this package's README).
 */
export function createPropgateClient(options: PropgateClientOptions): PropgateClient {
  let last: RateLimitState | null = null;
  const extraHeaders = options.headers;
  const url = `${options.url.replace(/\/+$/, "")}/trpc`;
  const trpc = createTRPCClient<AppRouter>({
    links: [
      propgateLink({
        getToken: options.getToken ?? null,
        retry: { maxRetries: 1, maxWaitMs: 5000, defaultWaitMs: 1000, ...options.retry },
        newIdempotencyKey: options.newIdempotencyKey ?? randomIdempotencyKey,
        onAnswer(state) {
          last = state;
          options.onRateLimit?.(state);
        },
        onSessionRequired: options.onSessionRequired,
      }),
      splitLink({
        condition: (op) => op.type === "subscription",
        true: subscriptionLink({
          url,
          token: async () => (options.getToken ? await options.getToken() : null),
          headers: async () =>
            typeof extraHeaders === "function" ? await extraHeaders() : (extraHeaders ?? {}),
          credentials: options.credentials,
          fetch: options.fetch,
        }),
        false: httpLink<AppRouter>({
          url,
          fetch: fetchWith(options),
          async headers({ op }) {
            const extra =
              typeof extraHeaders === "function" ? await extraHeaders() : (extraHeaders ?? {});
            const token = op.context[TOKEN_CONTEXT_KEY];
            if (typeof token !== "string" || !token) return extra;
            const rest = Object.entries(extra).filter(
              ([name]) => name.toLowerCase() !== "authorization",
            );
            return { ...Object.fromEntries(rest), authorization: `Bearer ${token}` };
          },
        }),
      }),
    ],
  });
  // tRPC's client is a proxy of procedure paths; `$rateLimit` is answered before it.
  return new Proxy(trpc, {
    get: (target, key, receiver) =>
      key === "$rateLimit" ? last : Reflect.get(target, key, receiver),
  }) as PropgateClient;
}
