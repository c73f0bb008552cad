import { type EnvSource, host, parseEnv, port, url } from "@propgate/config";
import { z } from "zod";

const schema = z.object({
  HOST: host.default("127.0.0.1"),
  PORT: port.default(8790),
  /** The api the admin page talks to, through this app's `/trpc/admin.*` proxy. */
  API_URL: url,
});

export type AdminEnv = z.infer<typeof schema>;

/** Settings of the admin app; the only reader of process.env. */
export function loadAdminEnv(source: EnvSource = process.env): AdminEnv {
  return parseEnv(schema, source);
}
