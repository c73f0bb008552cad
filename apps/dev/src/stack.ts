import { ConfigError } from "@propgate/config";
import { PinoPretty } from "pino-pretty";
import { startEmbeddedStack } from "./embedded.ts";
import { loadDevStackEnv } from "./env.ts";

/** `bun run start`: the whole stack on embedded defaults, data under ./.data of the repo. */
let env: ReturnType<typeof loadDevStackEnv>;
try {
  env = loadDevStackEnv();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
const dataDir = env.DATA_DIR;
// Pretty logs for a person at a terminal; one JSON line per event otherwise (as in production).
const logDestination = process.stdout.isTTY
  ? PinoPretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,app" })
  : undefined;
const stack = await startEmbeddedStack({
  dataDir,
  apiPort: env.PORT,
  adminPort: env.ADMIN_PORT,
  logLevel: env.LOG_LEVEL,
  logDestination,
  partnerEvents: true,
  healthProbe: { intervalMs: env.PROBE_INTERVAL_MS },
});
const watchToken = await stack.issuer.mint({
  sub: "resident-1",
  sites: ["site-a"],
  units: ["unit-a-42"],
  expiresInSeconds: 8 * 3600,
});

console.log(`
Propgate is running on embedded defaults (PGlite in ${dataDir}).

  admin app      ${stack.admin.url}        (sign in as the dev operator or the dev viewer)
  api            ${stack.api.url}        (tRPC at ${stack.api.url}/trpc, /healthz, /readyz)
  metrics        ${stack.metrics?.url ?? "off"}/metrics
  health probe   ${stack.probe?.url ?? "off"}/metrics   (every ${env.PROBE_INTERVAL_MS / 1000} s: partner health in the admin app)
  intercom sim   ${stack.sims.intercom.url}   (fault injection: ${stack.sims.intercom.adminUrl}/admin/faults)
  barrier sim    ${stack.sims.barrier.url}   (fault injection: ${stack.sims.barrier.adminUrl}/admin/faults)
  dev issuer     ${stack.issuer.url}
  partner events ${stack.partnerSurface?.url ?? "off"}   (the sims post here)

Get a resident token (sites: site-a; lives in flat 42, our unit-a-42):
  curl -s -X POST ${stack.issuer.url}/dev/token -H 'content-type: application/json' \\
       -d '{"sub":"resident-1","sites":["site-a"],"units":["unit-a-42"]}'
Then, with TOKEN set to it:
  curl -s ${stack.api.url}/trpc/devices.list -H "authorization: Bearer $TOKEN"
  curl -s -X POST ${stack.api.url}/trpc/consent.grant -H "authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{"purpose":"intercom","noticeVersion":1}'
  curl -s -X POST ${stack.api.url}/trpc/intercom.openDoor -H "authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{"deviceId":"door-a1"}'
Resident events: grant "journal" as above, then ring flat 42 at entrance 1 and read the journal
  curl -s -X POST ${stack.sims.intercom.adminUrl}/admin/calls -H 'content-type: application/json' \\
       -d '{"deviceId":"ic-a1","unitId":"42","cameraId":"cam-a1"}'
  curl -s ${stack.api.url}/trpc/events.list -H "authorization: Bearer $TOKEN"
Watch a camera in a browser (resident-1, token valid 8 h; press "Grant video consent" once):
  ${stack.api.url}/dev/video#token=${watchToken}&camera=cam-a1
Scripted walk-through on a throwaway stack: npx --yes bun@1.4.5 run demo
(Ctrl-C stops the stack)
`);

const shutdown = async () => {
  await stack.stop();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
