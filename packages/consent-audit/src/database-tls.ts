import { checkServerIdentity, type PeerCertificate } from "node:tls";

/**
 * What postgres.js is given for a deployment URL: the URL, and options to spread into its own
 * (`ssl` only when verifying: an `ssl` key, even undefined, would override the URL's sslmode;
 * `pass` only when DATABASE_PASSWORD_FILE gave one). Every connection of a handle uses them.
 */
interface PostgresConnection {
  url: string;
  options: {
    pass?: string;
    ssl?: {
      ca?: string;
      rejectUnauthorized: true;
      checkServerIdentity: (servername: string, cert: PeerCertificate) => Error | undefined;
    };
  };
}

/**
 * Turns a PostgreSQL URL and the CA that signed the server's certificate (PEM) into postgres.js
 * options. `sslmode=verify-full` checks the chain against `ca` (else the system CAs) AND the URL's
 * host against the certificate's names, IP SANs for an IP host: explicitly, since postgres.js
 * sends no server name for an IP host and the check would rest on what the runtime guesses.
 * `verify-ca` checks the chain only. Either is removed from the URL (postgres.js would read it as
 * its own `ssl`, without the CA). `require`, `prefer`, `allow`, `disable` and no sslmode are left
 * to postgres.js as they are: `require` encrypts but accepts ANY certificate, so it does not
 * authenticate the server (`ca` is not used); the others may not encrypt at all.
 */
export function postgresConnection(
  url: string,
  ca?: string,
  password?: string,
): PostgresConnection {
  const credentials = password === undefined ? {} : { pass: password };
  const queryAt = url.indexOf("?");
  if (queryAt < 0) return { url, options: credentials };
  const query = new URLSearchParams(url.slice(queryAt + 1));
  const sslmode = query.get("sslmode");
  if (sslmode !== "verify-full" && sslmode !== "verify-ca") return { url, options: credentials };
  query.delete("sslmode");
  const rest = query.toString();
  const stripped = url.slice(0, queryAt) + (rest === "" ? "" : `?${rest}`);
  const hosts = urlHosts(url);
  const verifyHost = (servername: string, cert: PeerCertificate): Error | undefined => {
    // A multi-host URL: the certificate must name the host connected to when postgres.js says
    // which (a DNS name), else one of the URL's hosts.
    const candidates = hosts.includes(servername) ? [servername] : hosts;
    let refusal: Error | undefined;
    for (const host of candidates) {
      refusal = checkServerIdentity(host, cert);
      if (refusal === undefined) return undefined;
    }
    return refusal ?? new Error("sslmode=verify-full needs a host in the URL");
  };
  return {
    url: stripped,
    options: {
      ...credentials,
      ssl: {
        ...(ca === undefined ? {} : { ca }),
        rejectUnauthorized: true,
        checkServerIdentity: sslmode === "verify-full" ? verifyHost : () => undefined,
      },
    },
  };
}

/** The host names of a `postgres://` URL as postgres.js reads them (`h1:5432,h2,[::1]:5433`). */
function urlHosts(url: string): string[] {
  const authority = url.slice(url.indexOf("://") + 3).split(/[?/]/)[0] ?? "";
  const hostList = decodeURIComponent(authority.slice(authority.lastIndexOf("@") + 1));
  return hostList
    .split(",")
    .map((entry) =>
      entry.startsWith("[") ? entry.slice(1, entry.indexOf("]")) : entry.split(":")[0],
    )
    .filter((host): host is string => host !== undefined && host !== "");
}
