import { join } from "node:path";
import { adminEnv } from "@propgate/admin";
import { cliEnvReference } from "@propgate/cli/env";
import { envRows, envTable } from "@propgate/config";
import { migrateEnv } from "@propgate/consent-audit";
import { PARTNERS } from "@propgate/domain";
import { probeEnvReference } from "@propgate/health-probe";
import { apiEnvReference } from "@propgate/server";
import type { z } from "zod";

/** Where the reference is committed; `bun run config-docs` writes it. */
export const CONFIGURATION_FILE = join(import.meta.dir, "../../../docs/configuration.md");

export interface Table {
  /** A sub-heading, for the tables after a program's own. */
  title?: string;
  about?: string;
  schema: z.ZodObject;
}

/** A production program and the env schemas it reads, one table each. */
export interface Program {
  title: string;
  about: string;
  tables: readonly Table[];
}

const partnerNames = PARTNERS.map((partner) => `\`${partner.toUpperCase()}\``).join(" or ");

const [apiOwn, partnerSurface, apiPartners, eventsWebhook, apiTraces] = apiEnvReference;
const [probeOwn, probePartners, probeTraces] = probeEnvReference;

/** The `OTEL_*` table, the same for each program that traces. */
const traces = (schema: z.ZodObject): Table => ({
  title: "Traces (`OTEL_*`)",
  about:
    "OpenTelemetry traces over OTLP/HTTP, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; what a trace holds is in `docs/operations.md`.",
  schema,
});
const [cliOwn, cliPartners, cliRetention] = cliEnvReference;

/** Every production program, in the order of the reference. */
export const PROGRAMS: readonly Program[] = [
  {
    title: "api (`apps/api`)",
    about:
      "One api instance (`bun run --cwd apps/api start`), parsed by `loadApiEnv` in `packages/server/src/env.ts`.",
    tables: [
      { schema: apiOwn },
      {
        title: "Partner surface (inbound, VPN only)",
        about: "Off unless `PARTNER_LISTEN` is set.",
        schema: partnerSurface,
      },
      {
        title: "Partners (`PARTNER_<P>_*`)",
        about: `One set per partner, \`<P>\` being ${partnerNames}; every set is required.`,
        schema: apiPartners,
      },
      {
        title: "Push to tenant-core (`EVENTS_WEBHOOK_*`)",
        about:
          "Resident events relayed as signed Standard Webhooks from a durable outbox. Off unless `EVENTS_WEBHOOK_URL` is set.",
        schema: eventsWebhook,
      },
      traces(apiTraces),
    ],
  },
  {
    title: "admin app (`apps/admin`)",
    about:
      "The admin screens (`bun run --cwd apps/admin start`), parsed by `loadAdminEnv` in `apps/admin/src/env.ts`.",
    tables: [{ schema: adminEnv }],
  },
  {
    title: "health probe (`apps/health-probe`)",
    about:
      "Partner checks, alerts and the VPN connection log (`bun run --cwd apps/health-probe start`), parsed by `loadProbeEnv` in `apps/health-probe/src/env.ts`.",
    tables: [
      { schema: probeOwn },
      {
        title: "Partners probed (`PARTNER_<P>_*`)",
        about: `The api's settings, read as strictly: a partner (\`<P>\` being ${partnerNames}) is probed when its \`PARTNER_<P>_BASE_URL\` is set, and the rest of its set is then required.`,
        schema: probePartners,
      },
      traces(probeTraces),
    ],
  },
  {
    title: "operator CLI (`propgate`, `apps/cli`)",
    about:
      "`migrate` aside, the operator commands (`bun run propgate <command>`), parsed by `loadCliEnv` in `apps/cli/src/env.ts`; `security-check` reads only the files it is given.",
    tables: [
      { schema: cliOwn },
      {
        title: "`propgate partner verify <partner>` (`PARTNER_<P>_*`)",
        about: `The api's settings of the partner checked (\`<P>\` being ${partnerNames}), read by \`loadPartnerEnv\`; no database.`,
        schema: cliPartners,
      },
      {
        title: "`propgate retention run` (retention periods)",
        about:
          "How long each kind of personal data is kept, read by `loadRetentionEnv`; what each covers and why is in `docs/data-retention.md`. The api reads `JOURNAL_RETENTION_DAYS` and `DESTRUCTION_RECORD_YEARS` too: set them alike for both.",
        schema: cliRetention,
      },
    ],
  },
  {
    title: "migrate (`bun run migrate`)",
    about:
      "Applies the committed migrations (`packages/consent-audit/src/migrate-cli.ts`), parsed by `loadMigrateEnv` in `packages/consent-audit/src/migrate-env.ts`.",
    tables: [{ schema: migrateEnv }],
  },
];

const INTRO = `# Configuration

Every environment variable each production program reads: its default, what production
(\`PROPGATE_ENV=production\`, the default) adds, and what it does. Generated from the programs' zod
env schemas (the \`.meta()\` of each field) by \`bun run config-docs\`; do not edit by hand:
\`apps/dev/test/configuration.test.ts\` fails when this file differs from what the schemas give,
when a variable has no description, or when a program reads a variable this file does not list.

Every program parses its environment once, at start. An empty value counts as unset. A missing or
malformed value stops startup with one line naming the variable, never its value. A \`*_FILE\`
variable names a file read once at start (a mounted secret, a systemd credential): production
takes the partners' secrets only that way.

Two instances on one host need their own \`PORT\` and \`METRICS_LISTEN\`: a listener that cannot
bind stops startup with one line naming its variable. Every database session has
\`idle_in_transaction_session_timeout\` of 60 s, sent when connecting; a connection pooler in
front of PostgreSQL must pass that startup parameter through.`;

/** The reference as markdown, from the programs' schemas. */
export function configurationReference(programs: readonly Program[] = PROGRAMS): string {
  const sections = programs.map((program) =>
    [
      `## ${program.title}`,
      program.about,
      ...program.tables.flatMap((table) => [
        ...(table.title ? [`### ${table.title}`] : []),
        ...(table.about ? [table.about] : []),
        envTable(envRows(table.schema)),
      ]),
    ].join("\n\n"),
  );
  return `${[INTRO, ...sections].join("\n\n")}\n`;
}

if (import.meta.main) {
  await Bun.write(CONFIGURATION_FILE, configurationReference());
  console.log("wrote docs/configuration.md");
}
