/**
 * A listener that could not bind, named by the variable that chose its address, so the one line
 * an operator reads says what to change (`METRICS_LISTEN 127.0.0.1:9465 is already in use …`).
 */
export class ListenError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = "ListenError";
  }
}

/** Why a bind fails, as an operator acts on it; other failures pass through unchanged. */
const PROBLEMS: Record<string, (variable: string) => string> = {
  EADDRINUSE: (variable) =>
    `is already in use (EADDRINUSE): another process listens there; give each instance on this host its own ${variable}`,
  EADDRNOTAVAIL: () =>
    "is not an address of this host (EADDRNOTAVAIL): is its interface (the VPN's) up?",
  EACCES: () => "is refused to this user (EACCES): a port below 1024 needs CAP_NET_BIND_SERVICE",
};

/**
 * Runs `bind` (a `Bun.serve` of ours); a bind it cannot make throws a ListenError naming
 * `variable` and the address.
 */
export function bindListener<T>(
  variable: string,
  address: { hostname: string; port: number },
  bind: () => T,
): T {
  try {
    return bind();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const problem = typeof code === "string" ? PROBLEMS[code] : undefined;
    if (!problem) throw error;
    const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
    throw new ListenError(variable, `${variable} ${host}:${address.port} ${problem(variable)}`);
  }
}
