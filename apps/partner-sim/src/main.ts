import { ConfigError } from "@propgate/config";
import { loadSimEnv } from "./env.ts";
import { type PartnerSim, startPartnerSim } from "./start.ts";
import { IvfFormatError } from "./video/ivf.ts";
import { mediaAddressFor } from "./video/sessions.ts";

let options: ReturnType<typeof loadSimEnv>;
try {
  options = loadSimEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

let sim: PartnerSim;
try {
  sim = await startPartnerSim(options);
} catch (error) {
  if (!(error instanceof IvfFormatError)) throw error;
  console.error(`partner-sim: ${error.message}`);
  process.exit(1);
}
const name = options.name ?? "partner";
console.log(`partner-sim ${name}: api ${sim.url}`);
console.log(`partner-sim ${name}: admin ${sim.adminUrl}/admin/faults`);
console.log(`partner-sim ${name}: issuer ${sim.issuer} audience ${sim.audience}`);
console.log(
  `partner-sim ${name}: ${
    options.tls === undefined
      ? "TLS off (plain http)"
      : options.tls.requireClientCert
        ? "TLS on, client certificates required (signed by SIM_TLS_CLIENT_CA_FILE)"
        : "TLS on, no client certificates asked"
  }`,
);
if ((options.cameras ?? []).length > 0) {
  const address = mediaAddressFor(options.hostname ?? "127.0.0.1");
  console.log(`partner-sim ${name}: video for ${options.cameras?.join(", ")}, ICE on ${address}`);
}
if (!/^(127\.|localhost$|::1$)/.test(options.hostname ?? "127.0.0.1")) {
  console.warn(
    `partner-sim ${name}: listening beyond loopback; the admin API has no authentication`,
  );
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    sim.stop().then(() => process.exit(0));
  });
}
