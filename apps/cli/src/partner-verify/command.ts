import { parseArgs } from "node:util";
import { ConfigError } from "@propgate/config";
import { PARTNERS, type Partner, PartnerDeviceId, SiteId } from "@propgate/domain";
import { loadPartnerEnv, loadSurfaceClientEnv } from "../env.ts";
import { runPartnerChecks } from "./checks.ts";
import { DEFAULT_ERASURE_WAIT_SECONDS, MAX_ERASURE_WAIT_SECONDS } from "./erasure-checks.ts";
import { eventRows, type SurfaceTarget } from "./event-checks.ts";
import { buildReport, formatTable } from "./report.ts";
import type { VerifyTargets } from "./verification.ts";

const PARTNER_VERIFY_USAGE = `propgate partner verify <intercom|barrier> [--device <id>] [--camera <id>]
    [--site <id>] [--surface <url>] [--erasure-wait <seconds>] [--json]

  Checks a partner's staging against the partner contract, with the api's own settings
  (PARTNER_<P>_BASE_URL, _ISSUER or _TOKEN_URL, _CLIENT_ID, _CLIENT_SECRET[_FILE],
  _SUBJECT_KEY[_FILE], _CA_FILE, _CLIENT_CERT_FILE + _CLIENT_KEY_FILE, _TIMEOUT_MS; plain http
  to loopback only with PROPGATE_ENV=development or test; inline secrets are taken even in
  production, where the api refuses them) and the api's own partner client,
  acting for a synthetic subject that stands for no resident. The ids are the partner's test
  devices: --device is really opened. Every call is bounded by PARTNER_<P>_TIMEOUT_MS.

    discovery          with _ISSUER (with or without _TOKEN_URL): the issuer's RFC 8414
                       metadata, or OpenID Connect discovery's when RFC 8414's path answers
                       a 4xx; the token endpoint answers
    token:<scope>      a token for each scope the partner's operations need, its scope and
                       expires_in (video.view may be refused when no --camera is given)
    health             GET /v1/health answers {status}
    wrong-scope        a token of another scope is refused with 403 (or 401): on health, and
                       with --device on the open endpoint with a health.read token
    <partner>.open     opens --device with an Idempotency-Key
    idempotency        the repeat with the same key gets the first answer (opens once)
    error-body         an unknown device id answers 404 with {error, message}
    plates.*           barrier, --site: list, add and remove a synthetic plate
    keys.*             intercom, --site and --device: create a guest key for --device (an
                       hour, one use; its code never printed), find it listed for the subject
                       and no other, delete it and find it gone; keys.wrong-scope: a token
                       without keys.manage is refused (403) on list, create and delete. Keys
                       made are deleted whatever fails
    faces.*            intercom: list; enrol and remove a generated 8x8 grey JPEG (a partner
                       refusing that image skips enrol)
    video.*            --camera: a WHEP session from a receive-only offer, read as the api reads
                       it, then DELETE on its Location (200 or 204)
    subjects.erase     erasure for the synthetic subject: 200, 202 or 204
    subjects.erasure_status
                       after a 202: GET /v1/subjects/{subject}/erasure as the api asks it,
                       honouring Retry-After (else every second), until {status: "done"}
                       (pass) or --erasure-wait seconds pass (default ${DEFAULT_ERASURE_WAIT_SECONDS}, at most ${MAX_ERASURE_WAIT_SECONDS};
                       skip: still pending; fail: still 404); after a 200 or 204: done
                       or 404, not pending. A malformed answer fails
    subjects.erasure_status.unknown
                       a subject never erased answers 404 with {error, message}
    retry-after        every 429/503 answered carried Retry-After (none is provoked)
    events.<type>      --surface, Propgate's partner surface (as the client PARTNER_SURFACE_CLIENT_ID
                       and _SECRET[_FILE]): a conforming synthetic call.incoming, call.ended,
                       access.granted and access.denied at --device are each accepted (202)
    events.strict      --surface: an event with a field outside its shape is refused (400)

  Prints a table (--json: machine-readable rows). Exit 0 all passed (skips allowed), 1 a check
  failed, 2 bad usage or configuration.`;

interface PartnerVerifyIo {
  out(text: string): void;
  err(text: string): void;
}

function isPartner(name: string): name is Partner {
  return (PARTNERS as readonly string[]).includes(name);
}

/** Runs the check; resolves to the exit status (0 all passed, 1 a check failed, 2 usage/config). */
async function runPartnerVerify(argv: string[], io: PartnerVerifyIo): Promise<number> {
  const usage = (problem: string) => {
    io.err(`partner verify: ${problem}\n\n${PARTNER_VERIFY_USAGE}`);
    return 2;
  };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(PARTNER_VERIFY_USAGE);
    return 0;
  }
  const [partner, ...extra] = positionals;
  if (partner === undefined) return usage("name the partner: intercom or barrier");
  if (!isPartner(partner)) return usage(`unknown partner ${partner}: expected intercom or barrier`);
  if (extra.length > 0) return usage(`unexpected argument ${extra[0]}`);
  const ids = [
    ["--device", values.device, PartnerDeviceId],
    ["--camera", values.camera, PartnerDeviceId],
    ["--site", values.site, SiteId],
  ] as const;
  for (const [flag, value, schema] of ids) {
    if (value !== undefined && !schema.safeParse(value).success)
      return usage(`${flag}: not a partner id (1-64 of [A-Za-z0-9._-])`);
  }
  const erasureWait = values["erasure-wait"] ?? String(DEFAULT_ERASURE_WAIT_SECONDS);
  const erasureWaitSeconds = Number(erasureWait);
  if (!/^\d+$/.test(erasureWait) || erasureWaitSeconds > MAX_ERASURE_WAIT_SECONDS)
    return usage(`--erasure-wait: whole seconds from 0 to ${MAX_ERASURE_WAIT_SECONDS}`);
  const targets: VerifyTargets = {
    device: values.device ?? null,
    camera: values.camera ?? null,
    site: values.site ?? null,
  };

  if (values.surface !== undefined && !URL.canParse(values.surface))
    return usage("--surface: not a URL");
  let env: ReturnType<typeof loadPartnerEnv>;
  let surface: SurfaceTarget | null = null;
  try {
    env = loadPartnerEnv(partner);
    if (values.surface !== undefined)
      surface = {
        url: values.surface,
        ...loadSurfaceClientEnv(),
        timeoutMs: env.settings.timeoutMs,
      };
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`partner verify: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const started = performance.now();
  const checks = [
    ...(await runPartnerChecks({ partner, targets, erasureWaitSeconds, ...env })),
    ...(await eventRows(surface, targets.device)),
  ];
  const report = buildReport(
    partner,
    env.settings.baseUrl,
    checks,
    (performance.now() - started) / 1000,
  );
  io.out(values.json ? JSON.stringify(report, null, 2) : formatTable(report));
  return report.ok ? 0 : 1;
}

/** `propgate partner verify …` on the console. */
export function partnerVerifyCli(argv: string[]): Promise<number> {
  return runPartnerVerify(argv, { out: console.log, err: console.error });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      device: { type: "string" },
      camera: { type: "string" },
      site: { type: "string" },
      surface: { type: "string" },
      "erasure-wait": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
