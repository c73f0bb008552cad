/** `host:port/database` of a PostgreSQL URL, for log lines; never includes the password. */
export function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default)";
  return `PostgreSQL ${parsed.hostname}:${parsed.port || "5432"}/${database}`;
}
