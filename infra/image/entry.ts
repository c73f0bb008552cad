/**
 * The image's one binary (`/usr/local/bin/propgate`, compiled by scripts/image.ts): its first
 * argument names the program, which then runs as it does from source — the same module, the
 * same environment, its own arguments. One binary, because each compiled program would carry
 * its own copy of the Bun runtime (107 MB).
 */
import { argv, exit } from "node:process";

const PROGRAMS = {
  /** apps/api: `bun run --cwd apps/api start` */
  api: () => import("../../apps/api/src/main.ts"),
  /** apps/admin: `bun run --cwd apps/admin start` */
  admin: () => import("../../apps/admin/src/main.ts"),
  /** apps/health-probe: `bun run --cwd apps/health-probe start` */
  "health-probe": () => import("../../apps/health-probe/src/main.ts"),
  /** the migrations: `bun run migrate` */
  migrate: () => import("../../packages/consent-audit/src/migrate-cli.ts"),
  /** the operator CLI: `bun run propgate <command>` */
  propgate: () => import("../../apps/cli/src/main.ts"),
} as const;

const USAGE = `usage: propgate <program> [arguments]

  api            the api server
  admin          the admin web app
  health-probe   the partner and VPN health probe
  migrate        apply the committed migrations to DATABASE_URL
  propgate ...   the operator CLI (alone, it lists its commands)

Each reads the environment it reads when run from source (see docs/configuration.md).`;

const program = argv[2];
if (program === undefined || !Object.hasOwn(PROGRAMS, program)) {
  console.error(program === undefined ? USAGE : `propgate: no program "${program}"\n\n${USAGE}`);
  exit(2);
}
// The program reads its arguments from argv[2] on, as when it is the script Bun runs.
argv.splice(2, 1);
await PROGRAMS[program as keyof typeof PROGRAMS]();
