import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type PartnerSim, startPartnerSim } from "@propgate/partner-sim";

/**
 * `bun run propgate partner verify <partner>` (apps/cli) as an operator runs it — a child process
 * with the api's PARTNER_<P>_* variables — against the partner simulators: it passes against a
 * sound partner in both dialects, and fails, naming the check, against each fault that breaks
 * the contract. It lives here because apps/dev is the one app that may start the simulator.
 */
const CLI = `${import.meta.dir}/../../cli/src/main.ts`;
const SECRETS = {
  intercom: `verify-intercom-${crypto.randomUUID()}`,
  barrier: `verify-barrier-${crypto.randomUUID()}`,
};
const IDS = { door: "ic-verify-1", camera: "cam-verify-1", gate: "bar-verify-1", site: "site-v" };

let sims: { intercom: PartnerSim; barrier: PartnerSim };

beforeAll(async () => {
  const [intercom, barrier] = await Promise.all([
    startPartnerSim({
      name: "intercom",
      clients: [
        {
          clientId: "propgate-verify",
          clientSecret: SECRETS.intercom,
          scopes: [
            "intercom.open",
            "faces.manage",
            "keys.manage",
            "video.view",
            "subjects.erase",
            "health.read",
          ],
        },
      ],
      intercoms: [IDS.door],
      cameras: [IDS.camera],
    }),
    startPartnerSim({
      name: "barrier",
      clients: [
        {
          clientId: "propgate-verify",
          clientSecret: SECRETS.barrier,
          scopes: ["barrier.open", "plates.manage", "subjects.erase", "health.read"],
        },
      ],
      barriers: [IDS.gate],
    }),
  ]);
  sims = { intercom, barrier };
});
afterAll(async () => {
  await Promise.all([sims?.intercom.stop(), sims?.barrier.stop()]);
});
beforeEach(() => {
  for (const sim of [sims.intercom, sims.barrier]) {
    sim.faults.reset();
    sim.recorder.clear();
  }
});

type Partner = keyof typeof SECRETS;
interface Row {
  check: string;
  status: "pass" | "fail" | "skip";
  detail: string;
}
interface Report {
  partner: string;
  ok: boolean;
  summary: Record<Row["status"], number>;
  checks: Row[];
}

function partnerEnv(partner: Partner, overrides: Record<string, string> = {}) {
  const p = `PARTNER_${partner.toUpperCase()}_`;
  return {
    PROPGATE_ENV: "development",
    [`${p}BASE_URL`]: sims[partner].url,
    [`${p}ISSUER`]: sims[partner].issuer,
    [`${p}CLIENT_ID`]: "propgate-verify",
    [`${p}CLIENT_SECRET`]: SECRETS[partner],
    [`${p}SUBJECT_KEY`]: "cd".repeat(32),
    [`${p}TIMEOUT_MS`]: "4000",
    ...overrides,
  };
}

const TARGETS: Record<Partner, string[]> = {
  intercom: ["--device", IDS.door, "--camera", IDS.camera, "--site", IDS.site],
  barrier: ["--device", IDS.gate, "--site", IDS.site],
};

/** Runs the command; whatever it prints must hold no secret, no token and no SDP. */
async function cli(partner: Partner, args: string[], env: Record<string, string>) {
  const child = Bun.spawn([process.execPath, CLI, "partner", "verify", partner, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const printed = stdout + stderr;
  for (const secret of Object.values(SECRETS)) expect(printed).not.toContain(secret);
  expect(printed).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // a JWT access token
  expect(printed).not.toMatch(/v=0|a=fingerprint|ice-pwd/); // SDP
  expect(printed).not.toMatch(/\b\d{8}\b|SIMKEY/); // a guest key's code or QR (the sim's)
  return { code, stdout, stderr };
}

async function verify(
  partner: Partner,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<{ code: number; report: Report; rows: Map<string, Row> }> {
  const { code, stdout, stderr } = await cli(
    partner,
    [...(options.args ?? TARGETS[partner]), "--json"],
    partnerEnv(partner, options.env),
  );
  if (!stdout.trim()) throw new Error(`no report (exit ${code}): ${stderr}`);
  const report = JSON.parse(stdout) as Report;
  return { code, report, rows: new Map(report.checks.map((row) => [row.check, row])) };
}

/** Keys the sim still holds for the subjects this test's runs made keys for (must be none). */
function keysLeft(): string[] {
  const subjects = new Set(
    sims.intercom.recorder.all({ operation: "keys.create" }).map((call) => call.subject),
  );
  return sims.intercom.keys
    .keys()
    .filter((key) => subjects.has(key.subject))
    .map((key) => key.keyId);
}

const statusOf = (rows: Map<string, Row>) =>
  Object.fromEntries([...rows].map(([check, row]) => [check, row.status]));
const failedChecks = (report: Report) =>
  report.checks.filter((row) => row.status === "fail").map((row) => row.check);

const INTERCOM_CHECKS = [
  "discovery",
  "token:intercom.open",
  "token:video.view",
  "token:faces.manage",
  "token:keys.manage",
  "token:subjects.erase",
  "token:health.read",
  "health",
  "wrong-scope",
  "intercom.open",
  "idempotency",
  "error-body",
  "faces.list",
  "faces.enroll",
  "faces.remove",
  "keys.create",
  "keys.list",
  "keys.wrong-scope",
  "keys.delete",
  "video.create_session",
  "video.end_session",
  "subjects.erase",
  "subjects.erasure_status",
  "subjects.erasure_status.unknown",
];

/** The event rows: skipped without --surface (partner-verify-events.e2e.test.ts runs them). */
const EVENT_CHECKS = [
  "events.call.incoming",
  "events.call.ended",
  "events.access.granted",
  "events.access.denied",
  "events.strict",
];

describe("partner verify passes against a partner that keeps the contract", () => {
  for (const dialect of ["propgate", "standard"] as const) {
    test(`intercom, ${dialect} dialect: every check passes with --device and --camera`, async () => {
      sims.intercom.faults.set({ dialect });
      const { code, report, rows } = await verify("intercom");
      expect(failedChecks(report)).toEqual([]);
      expect(code).toBe(0);
      expect(report.ok).toBe(true);
      expect(statusOf(rows)).toEqual({
        ...Object.fromEntries(INTERCOM_CHECKS.map((check) => [check, "pass"])),
        "retry-after": "skip",
        ...Object.fromEntries(EVENT_CHECKS.map((check) => [check, "skip"])),
      });
      expect(rows.get("video.create_session")?.detail).toContain(
        dialect === "standard" ? "no X-Session-Expires-At" : "X-Session-Expires-At 20",
      );
      expect(rows.get("subjects.erase")?.detail).toStartWith(
        dialect === "standard" ? "HTTP 204" : "HTTP 200",
      );
      // Erased at once: nothing pending for the subject (404), and 404 for one never erased.
      expect(rows.get("subjects.erasure_status")?.detail).toBe(
        `HTTP 404: nothing pending after the HTTP ${dialect === "standard" ? 204 : 200} erasure`,
      );
      expect(rows.get("subjects.erasure_status.unknown")?.detail).toBe(
        'HTTP 404 {error: "not_found"} for a subject never erased',
      );
      expect(rows.get("wrong-scope")?.detail).toContain("→ 403");

      // What the partner saw: a synthetic subject, one open under one key (the repeat replayed),
      // the WHEP session ended at the Location it gave, the subject erased.
      const opens = sims.intercom.recorder.all({ operation: "intercom.open" });
      const real = opens.filter((open) => open.deviceId === IDS.door && open.status === 200);
      expect(real.map((open) => open.replayed ?? false)).toEqual([false, true]);
      expect(new Set(real.map((open) => open.idempotencyKey)).size).toBe(1);
      expect(real[0]?.subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(sims.intercom.recorder.opens().length).toBe(1);
      expect(
        sims.intercom.video.sessions().map((s) => [s.cameraId, s.state, s.closedReason]),
      ).toContainEqual([IDS.camera, "closed", "deleted"]);
      expect(sims.intercom.recorder.count({ operation: "subjects.erase" })).toBe(1);

      // One key made, with exactly the contract's body, for the same synthetic subject; the
      // wrong-scope probes refused; the key deleted at the end.
      const creates = sims.intercom.recorder.all({ operation: "keys.create" });
      expect(creates.map((call) => call.status)).toEqual([201, 403]);
      expect(creates[0]?.body).toEqual({
        subject: real[0]?.subject,
        devices: [IDS.door],
        validFrom: expect.stringMatching(/^20\d\d-.*Z$/),
        validUntil: expect.stringMatching(/^20\d\d-.*Z$/),
        maxUses: 1,
      });
      const deletes = sims.intercom.recorder.all({ operation: "keys.delete" });
      expect(deletes.map((call) => call.status)).toEqual([403, 204]);
      expect(rows.get("keys.create")?.detail).toBe(
        "HTTP 201: {keyId, code, validFrom, validUntil}, a QR",
      );
      expect(keysLeft()).toEqual([]);
    });

    test(`barrier, ${dialect} dialect: every check passes with --device and --site; video asks for --camera`, async () => {
      sims.barrier.faults.set({ dialect });
      const { code, report, rows } = await verify("barrier");
      expect(failedChecks(report)).toEqual([]);
      expect(code).toBe(0);
      for (const check of [
        "discovery",
        "token:barrier.open",
        "token:plates.manage",
        "token:subjects.erase",
        "token:health.read",
        "health",
        "wrong-scope",
        "barrier.open",
        "idempotency",
        "error-body",
        "plates.list",
        "plates.add",
        "plates.remove",
        "subjects.erase",
        "subjects.erasure_status",
        "subjects.erasure_status.unknown",
      ])
        expect({ check, status: rows.get(check)?.status }).toEqual({ check, status: "pass" });
      // The barrier client holds no video.view: fine for a partner without cameras.
      expect(rows.get("token:video.view")).toMatchObject({ status: "skip" });
      expect(rows.get("token:video.view")?.detail).toContain("invalid_scope");
      expect(rows.get("video.create_session")).toMatchObject({ status: "skip" });
      expect(rows.get("video.create_session")?.detail).toContain("--camera");
      expect(rows.has("faces.list")).toBe(false);
    });
  }

  test("with a token URL instead of an issuer, and without ids: no discovery, the rows that need an id say which flag", async () => {
    const { code, rows } = await verify("intercom", {
      args: [],
      env: {
        PARTNER_INTERCOM_ISSUER: "",
        PARTNER_INTERCOM_TOKEN_URL: `${sims.intercom.url}/oauth/token`,
      },
    });
    expect(code).toBe(0);
    expect(rows.get("discovery")).toMatchObject({ status: "pass" });
    expect(rows.get("discovery")?.detail).toContain("PARTNER_INTERCOM_TOKEN_URL is set");
    expect(sims.intercom.recorder.count({ operation: "metadata" })).toBe(0);
    expect(rows.get("intercom.open")?.detail).toBe("give --device <id> to check intercom.open");
    expect(rows.get("video.create_session")?.detail).toBe(
      "give --camera <id> to check video.create_session",
    );
    expect(rows.get("keys.create")?.detail).toBe(
      "give --device <id> and --site <id> to check keys.create",
    );
    expect(rows.get("keys.wrong-scope")?.detail).toBe(
      "give --site <id> to check keys.manage is enforced",
    );
    expect(rows.get("wrong-scope")).toMatchObject({ status: "pass" });
    expect(rows.get("error-body")).toMatchObject({ status: "pass" });
    expect(sims.intercom.recorder.count({ operation: "intercom.open", status: 200 })).toBe(0);
  });

  test("with both ISSUER and TOKEN_URL set: the issuer's RFC 8414 metadata is checked too, and passes", async () => {
    const { code, report, rows } = await verify("intercom", {
      env: { PARTNER_INTERCOM_TOKEN_URL: `${sims.intercom.url}/oauth/token` },
    });
    expect(failedChecks(report)).toEqual([]);
    expect(code).toBe(0);
    expect(rows.get("discovery")).toEqual({
      check: "discovery",
      status: "pass",
      detail: `RFC 8414 metadata at ${sims.intercom.url}/.well-known/oauth-authorization-server; its token_endpoint is PARTNER_INTERCOM_TOKEN_URL; the token endpoint answers`,
    });
    expect(
      sims.intercom.recorder.all({ operation: "metadata" }).map((r) => [r.path, r.status]),
    ).toEqual([["/.well-known/oauth-authorization-server", 200]]);
  });

  test("an identity server serving only OpenID Connect discovery: passes with ISSUER alone (the api's token source finds it) and with TOKEN_URL too", async () => {
    sims.intercom.faults.set({ metadataAt: "oidc" });
    const rfc8414 = `${sims.intercom.url}/.well-known/oauth-authorization-server`;
    const oidc = `${sims.intercom.url}/.well-known/openid-configuration`;
    const settings: Array<Record<string, string>> = [
      {},
      { PARTNER_INTERCOM_TOKEN_URL: `${sims.intercom.url}/oauth/token` },
    ];
    for (const env of settings) {
      sims.intercom.recorder.clear();
      const { code, report, rows } = await verify("intercom", { env });
      expect({ env, failed: failedChecks(report), code }).toEqual({ env, failed: [], code: 0 });
      expect(rows.get("discovery")?.status).toBe("pass");
      expect(rows.get("discovery")?.detail).toStartWith(
        `OpenID Connect discovery metadata at ${oidc}; ${rfc8414} answered HTTP 404;`,
      );
      expect(rows.get("token:intercom.open")?.status).toBe("pass");
      // RFC 8414 first, then OpenID Connect: once, however many tokens were asked for.
      expect(
        sims.intercom.recorder.all({ operation: "metadata" }).map((r) => [r.path, r.status]),
      ).toEqual([
        ["/.well-known/oauth-authorization-server", 404],
        ["/.well-known/openid-configuration", 200],
      ]);
    }
  }, 20_000);

  test("a 503 with Retry-After is seen and passes retry-after (the call is retried after it)", async () => {
    sims.intercom.faults.set({ failNext: 1, errorStatus: 503, retryAfterSeconds: 1 });
    const { code, rows } = await verify("intercom");
    expect(code).toBe(0);
    expect(rows.get("retry-after")).toMatchObject({ status: "pass" });
    expect(rows.get("retry-after")?.detail).toContain("Retry-After (1 s)");
    expect(rows.get("health")).toMatchObject({ status: "pass" });
  });
});

/** The sim's answers to the status polls of this run's erased subject, and their arrival (ms). */
function statusPolls(partner: Partner) {
  const [erase] = sims[partner].recorder.all({ operation: "subjects.erase" });
  return sims[partner].recorder
    .all({ operation: "subjects.erasure_status" })
    .filter((poll) => erase !== undefined && poll.path === `${erase.path}/erasure`)
    .map((poll) => ({ status: poll.status, at: Date.parse(poll.at) }));
}

const gaps = (polls: { at: number }[]) =>
  polls.slice(1).map((poll, i) => poll.at - (polls[i]?.at ?? poll.at));

describe("partner verify follows an erasure the partner accepted (202) on its status endpoint", () => {
  for (const dialect of ["propgate", "standard"] as const) {
    test(`${dialect} dialect: a partner that erases 1.5 s later is asked again after its Retry-After, and passes when done`, async () => {
      sims.intercom.faults.set({
        dialect,
        erasureAnswer: "accepted",
        erasureCompletesAfterMs: 1500,
      });
      const { code, report, rows } = await verify("intercom");
      expect(failedChecks(report)).toEqual([]);
      expect(code).toBe(0);
      expect(rows.get("subjects.erase")?.detail).toBe("HTTP 202: faces accepted (erased later)");
      expect(rows.get("subjects.erasure_status")).toMatchObject({ status: "pass" });
      expect(rows.get("subjects.erasure_status")?.detail).toMatch(
        /^HTTP 200 \{status: "done", completedAt 20\d\d-[^}]+Z\} after 2 poll\(s\) in 2\.\d s$/,
      );
      // Pending with Retry-After: 2 (the 1.5 s left, rounded up), then done: asked no sooner.
      const polls = statusPolls("intercom");
      expect(polls.map((poll) => poll.status)).toEqual([200, 200]);
      expect(gaps(polls)[0]).toBeGreaterThanOrEqual(1990);
      expect(rows.get("subjects.erasure_status.unknown")).toMatchObject({ status: "pass" });
    });
  }

  test("a partner that never finishes within --erasure-wait: skipped as still pending, polls a Retry-After apart, bounded", async () => {
    sims.barrier.faults.set({ erasureAnswer: "accepted", erasureNeverCompletes: true });
    const started = performance.now();
    const { code, report, rows } = await verify("barrier", {
      args: [...TARGETS.barrier, "--erasure-wait", "3"],
    });
    expect(failedChecks(report)).toEqual([]);
    expect(code).toBe(0);
    const row = rows.get("subjects.erasure_status");
    expect(row?.status).toBe("skip");
    const shown = row?.detail.match(
      /^still pending after (\d) poll\(s\) in ([\d.]+) s \(Retry-After 1 s; --erasure-wait 3 reached\): the api asks until ERASURE_DEADLINE_DAYS$/,
    );
    if (!shown) throw new Error(`unexpected detail: ${row?.detail}`);
    const polls = statusPolls("barrier");
    expect(polls.length).toBe(Number(shown[1]));
    expect(polls.length).toBeGreaterThanOrEqual(3);
    expect(polls.every((poll) => poll.status === 200)).toBe(true);
    for (const gap of gaps(polls)) expect(gap).toBeGreaterThanOrEqual(990);
    expect(Number(shown[2])).toBeLessThanOrEqual(3);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  test("a malformed status answer fails subjects.erasure_status, naming what is wrong", async () => {
    const cases = [
      // pending, but `status: "erasing"`
      [{ erasureCompletesAfterMs: 60_000, responseMode: "bad-schema" }, "(fields: status)"],
      // done, but `completedAt: "yesterday"`
      [{ erasureCompletesAfterMs: 0, responseMode: "bad-schema" }, "(fields: completedAt)"],
      [{ erasureCompletesAfterMs: 0, responseMode: "non-json" }, "not JSON"],
    ] as const;
    for (const [faults, says] of cases) {
      sims.intercom.faults.reset();
      sims.intercom.recorder.clear();
      sims.intercom.faults.set({ erasureAnswer: "accepted", ...faults });
      const { code, report, rows } = await verify("intercom");
      expect(code).toBe(1);
      expect(failedChecks(report)).toContain("subjects.erasure_status");
      expect(rows.get("subjects.erase")?.status).toBe("pass");
      expect({ faults, row: rows.get("subjects.erasure_status") }).toEqual({
        faults,
        row: {
          check: "subjects.erasure_status",
          status: "fail",
          detail: expect.stringContaining(says),
        },
      });
      // Refused at the first answer: not asked again.
      expect(statusPolls("intercom")).toHaveLength(1);
    }
  }, 30_000);
});

describe("partner verify fails, naming the check, against a partner that breaks the contract", () => {
  test("a partner accepting any scope: wrong-scope and keys.wrong-scope fail, everything else passes", async () => {
    sims.intercom.faults.set({ acceptAnyScope: true });
    const { code, report, rows } = await verify("intercom");
    expect(code).toBe(1);
    expect(failedChecks(report)).toEqual(["wrong-scope", "keys.wrong-scope"]);
    expect(rows.get("wrong-scope")?.detail).toStartWith("wrong scope accepted");
    expect(rows.get("keys.wrong-scope")?.detail).toBe(
      "wrong scope accepted: keys.list with a token for health.read answered HTTP 200",
    );
    expect(keysLeft()).toEqual([]);
  });

  test("malformed answers: each operation whose answer lacks a field fails, naming it; the WHEP answer's missing Location", async () => {
    sims.intercom.faults.set({ responseMode: "bad-schema" });
    const { code, report, rows } = await verify("intercom");
    expect(code).toBe(1);
    expect(failedChecks(report)).toEqual([
      "health",
      "intercom.open",
      "faces.list",
      "faces.enroll",
      "keys.create",
      "video.create_session",
      "subjects.erase",
    ]);
    expect(rows.get("keys.create")?.detail).toContain("fields: code");
    expect(rows.get("health")?.detail).toContain("fields: status");
    expect(rows.get("intercom.open")?.detail).toContain("fields: eventId");
    expect(rows.get("video.create_session")?.detail).toContain("no Location header");
    expect(rows.get("video.end_session")).toMatchObject({ status: "skip" });
    expect(rows.get("idempotency")).toMatchObject({ status: "skip" });
    expect(rows.get("subjects.erasure_status")).toEqual({
      check: "subjects.erasure_status",
      status: "skip",
      detail: "no erasure to follow (see subjects.erase)",
    });
  });

  test("malformed plate answers at the barrier fail plates.list and plates.add", async () => {
    sims.barrier.faults.set({ responseMode: "bad-schema" });
    const { code, rows } = await verify("barrier");
    expect(code).toBe(1);
    expect(rows.get("plates.list")).toMatchObject({ status: "fail" });
    expect(rows.get("plates.list")?.detail).toContain("fields: plates");
    expect(rows.get("plates.add")).toMatchObject({ status: "fail" });
    expect(rows.get("plates.remove")).toMatchObject({ status: "skip" });
  });

  test("the table names the failed checks and why", async () => {
    sims.intercom.faults.set({ responseMode: "bad-schema" });
    const { code, stdout } = await cli("intercom", TARGETS.intercom, partnerEnv("intercom"));
    expect(code).toBe(1);
    const line = stdout.split("\n").find((row) => row.startsWith("video.create_session"));
    expect(line).toMatch(/^video\.create_session\s+FAIL\s+.*Location/);
    expect(stdout.trimEnd().split("\n").at(-1)).toMatch(
      /^\d+ passed, 7 failed, \d+ skipped in [\d.]+ s — FAIL \(health, intercom\.open, faces\.list, faces\.enroll, keys\.create, video\.create_session, subjects\.erase\)$/,
    );
  });

  test("a token endpoint refusing: every token row fails with its answer, the rest skip", async () => {
    sims.intercom.faults.set({ tokenEndpointDown: true });
    const { code, report, rows } = await verify("intercom");
    expect(code).toBe(1);
    const tokenRows = report.checks.filter((row) => row.check.startsWith("token:"));
    expect(tokenRows.length).toBe(6);
    for (const row of tokenRows) {
      expect(row.status).toBe("fail");
      expect(row.detail).toBe("the token endpoint refused: HTTP 503 temporarily_unavailable");
    }
    expect(failedChecks(report)).toEqual(tokenRows.map((row) => row.check));
    expect(rows.get("health")?.detail).toBe("no health.read token (see token:health.read)");
    expect(sims.intercom.recorder.count({ operation: "intercom.open" })).toBe(0);
  });

  test("with both ISSUER and TOKEN_URL set, an issuer that serves no metadata fails discovery, naming both paths; tokens still come from TOKEN_URL", async () => {
    const issuer = `${sims.intercom.url}/tenant`;
    const { code, report, rows } = await verify("intercom", {
      env: {
        PARTNER_INTERCOM_ISSUER: issuer,
        PARTNER_INTERCOM_TOKEN_URL: `${sims.intercom.url}/oauth/token`,
      },
    });
    expect(code).toBe(1);
    expect(failedChecks(report)).toEqual(["discovery"]);
    expect(rows.get("discovery")?.detail).toBe(
      `no metadata: ${sims.intercom.url}/.well-known/oauth-authorization-server/tenant answered HTTP 404, ${issuer}/.well-known/openid-configuration HTTP 404`,
    );
    expect(rows.get("token:intercom.open")?.status).toBe("pass");
  });

  test("a partner that stores no key: keys.list fails naming it, keys.delete too; nothing is left", async () => {
    sims.intercom.faults.set({ keysNotStored: true });
    const { code, report, rows } = await verify("intercom");
    expect(code).toBe(1);
    expect(failedChecks(report)).toEqual(["keys.list", "keys.delete"]);
    expect(rows.get("keys.create")?.status).toBe("pass");
    expect(rows.get("keys.list")?.detail).toBe("HTTP 200: the key just created is not listed");
    expect(rows.get("keys.delete")?.detail).toContain("HTTP 404");
    expect(rows.get("keys.wrong-scope")?.status).toBe("pass");

    // The table's verdict names the row.
    sims.intercom.recorder.clear();
    const table = await cli("intercom", TARGETS.intercom, partnerEnv("intercom"));
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^keys\.list\s+FAIL\s+.*not listed/m);
    expect(table.stdout.trimEnd().split("\n").at(-1)).toEndWith("FAIL (keys.list, keys.delete)");
  });

  test("a 503 without Retry-After fails retry-after", async () => {
    sims.barrier.faults.set({ failNext: 1, errorStatus: 503, retryAfterSeconds: null });
    const { code, report, rows } = await verify("barrier");
    expect(code).toBe(1);
    expect(failedChecks(report)).toEqual(["retry-after"]);
    expect(rows.get("retry-after")?.detail).toContain("HTTP 503 from the API");
  });
});
