/**
 * The baseline a user would write instead of a gateway: a Bun.serve passthrough to one upstream,
 * no auth, audit or consent. Run as a script (`BENCH_PROXY_TARGET=http://… bun bare-proxy.ts`)
 * it prints `bare proxy listening <url>`; the bench starts it as a child next to the api child.
 */
export function startBareProxy(target: string): { url: string; stop(): Promise<void> } {
  const upstream = new URL(target);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const headers = new Headers(request.headers);
      headers.delete("host");
      const answer = await fetch(new URL(url.pathname + url.search, upstream), {
        method: request.method,
        headers,
        body: request.body ? await request.arrayBuffer() : undefined,
      });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    stop: () => server.stop(true),
  };
}

if (import.meta.main) {
  const target = process.env.BENCH_PROXY_TARGET;
  if (!target) {
    console.error("BENCH_PROXY_TARGET is required");
    process.exit(1);
  }
  const proxy = startBareProxy(target);
  console.log(`bare proxy listening ${proxy.url}`);
  process.once("SIGTERM", () => void proxy.stop().then(() => process.exit(0)));
}
