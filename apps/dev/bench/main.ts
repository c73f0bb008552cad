import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { countAuditEvents } from "@propgate/consent-audit";
import { operationPath } from "@propgate/partner-client";
import { loadApiEnv, startInstance as startApi } from "@propgate/server";
import { SQL } from "bun";
import { HEAP_GROWTH_FACTOR } from "../src/runtime-settings.ts";
import {
  clearRecorders,
  grant,
  HIGH_RATE_LIMITS,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { measureAuditPages } from "./audit-pages.ts";
import { measureAuditVerify } from "./audit-verify.ts";
import { startAuditedFloor, startStackFloor } from "./audited-floor.ts";
import { startBareProxy } from "./bare-proxy.ts";
import { breakdownLine, measureBreakdown } from "./breakdown.ts";
import {
  type EstateDoorOpens,
  type EstateSize,
  growEstate,
  LARGE_ESTATE,
  timeEstatePages,
} from "./estate.ts";
import { type JournalCost, measureJournalCost } from "./journal-cost.ts";
import { measureJournalPages } from "./journal-pages.ts";
import { type LoadRequest, runLoad } from "./load.ts";
import { sampleActivity } from "./pg-activity.ts";
import { type PostgresProfile, recordPostgres } from "./pg-profile.ts";
import {
  backendCpuDelta,
  type ChildServer,
  postgresBackendCpu,
  readCpuSeconds,
  readMainThreadCpuSeconds,
  readVm,
  startApiProcess,
  startAuditedFloorProcess,
  startBareProxyProcess,
} from "./proc.ts";
import { topFrames } from "./profile.ts";
import {
  benchmarksMarkdown,
  type Cell,
  type Goal,
  type Measure,
  type RunRecord,
  type Summary,
  stdoutReport,
  type TargetName,
} from "./report.ts";
import { measureRevocation } from "./revocation.ts";
import { measureRoundTrip, type RoundTrip } from "./round-trip.ts";
import { addWrites, noWrites, serverWrites, writesSince, writesText } from "./server-writes.ts";
import { measureSharedLimitsCost, type SharedLimitsCost } from "./shared-limits-cost.ts";
import { fmt, median, percentile } from "./stats.ts";
import { measureTracingCost, type TracingCost } from "./tracing-cost.ts";

/**
 * `bun run bench [--quick | --breakdown]`: Propgate's door open against three baselines taken in the same
 * run — the partner simulator called directly, a bare Bun.serve proxy in front of it, and the
 * audited floor (a proxy that verifies the resident's JWT and commits one audit row through the
 * same writer before forwarding) — with autocannon as the load generator. See BENCHMARKS.md for what each figure means.
 */

const QUICK = process.argv.includes("--quick");
const BREAKDOWN_ONLY = process.argv.includes("--breakdown");
/** `--estate` (or `--estate=0.01`, a fraction of it): the large estate phase, minutes long. */
const ESTATE_ARG = process.argv.find((arg) => arg === "--estate" || arg.startsWith("--estate="));
const ESTATE_SCALE = ESTATE_ARG?.includes("=") ? Number(ESTATE_ARG.split("=")[1]) : 1;
if (ESTATE_ARG && !(ESTATE_SCALE > 0 && ESTATE_SCALE <= 1)) {
  console.error("--estate=<fraction> takes a number in (0, 1]");
  process.exit(1);
}
const CONFIG = QUICK
  ? {
      reps: 1,
      closedSeconds: 2,
      pacedSeconds: 3,
      warmSeconds: 1,
      freshApiWarmSeconds: 2,
      connections: [1, 16, 64],
      rates: [100],
      tokenSeconds: 6,
      tokenLifetimeSeconds: 6,
      revokeRounds: 10,
      baselineOpens: 50,
      breakdownOpens: 200,
      profileSeconds: 3,
    }
  : {
      reps: 3,
      closedSeconds: 6,
      pacedSeconds: 10,
      warmSeconds: 3,
      freshApiWarmSeconds: 20,
      connections: [1, 16, 64],
      rates: [100, 500],
      tokenSeconds: 30,
      tokenLifetimeSeconds: 6,
      revokeRounds: 200,
      baselineOpens: 200,
      breakdownOpens: 1000,
      profileSeconds: 8,
    };
const RESIDENTS = 32;
/** The most the direct target's req/s at c = 16 may swing between repetitions for ratio verdicts. */
const MAX_SPEED_SWING = 1.25;
/** Each paced connection spends this many requests of every second (autocannon's pacing). */
const PACED_PER_CONNECTION = 25;
const INTERCOM_PATH = operationPath("intercom.open", "ic-a1");
const MB = 1024 * 1024;
const BIOME = resolve(import.meta.dir, "../../../node_modules/.bin/biome");

const startedAt = new Date();
const began = performance.now();
const loadAtStart = os.loadavg();
const revisionAtStart = revision();
const progress = (line: string) =>
  console.error(`[bench ${fmt((performance.now() - began) / 1000, 0)} s] ${line}`);

function cpuModel(): string {
  const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return match?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
}

/** The commit measured, and whether the work tree differed from it. */
function revision(): string {
  const repo = resolve(import.meta.dir, "../../..");
  const head = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: repo });
  if (head.exitCode !== 0) return "unknown (no git)";
  const status = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], {
    cwd: repo,
  });
  const changed = status.stdout.toString().trim().split("\n").filter(Boolean).length;
  const commit = head.stdout.toString().trim();
  return changed ? `${commit} + uncommitted changes in ${changed} tracked files` : commit;
}

/** A client-credentials token from the sim, with the credentials the stack's api uses. */
async function simToken(stack: TestStack): Promise<string> {
  const id = encodeURIComponent(stack.env.PARTNER_INTERCOM_CLIENT_ID ?? "");
  const secret = encodeURIComponent(stack.env.PARTNER_INTERCOM_CLIENT_SECRET ?? "");
  const answer = await fetch(`${stack.sims.intercom.url}/oauth/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${btoa(`${id}:${secret}`)}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "intercom.open" }),
  });
  const body = (await answer.json()) as { access_token?: string };
  if (!answer.ok || !body.access_token) throw new Error(`sim token: ${answer.status}`);
  return body.access_token;
}

/** A measured api of its own stack and database, and the door opens sent to it. */
interface Place {
  stack: TestStack;
  /** Its database's name on the PostgreSQL server; null on embedded PGlite. */
  dbName: string | null;
  origin: string;
  pid: number | null;
  request(tag: string): (n: number) => LoadRequest;
}

const discard = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});

const stack = await startTestStack({ logLevel: "warn", env: HIGH_RATE_LIMITS });
const workDir = mkdtempSync(join(os.tmpdir(), "propgate-bench-"));
const children: ChildServer[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
const dbUrl = stack.testDatabase.url;
const childMode = dbUrl !== undefined;
/** A PostgreSQL URL's database name; null for embedded PGlite (no URL). */
const databaseName = (url: string | undefined) => (url ? new URL(url).pathname.slice(1) : null);
const dbName = databaseName(dbUrl);
const pgSql = dbUrl ? new SQL(dbUrl, { max: 1 }) : null;
let finished = false;
// Ctrl-C: do not leave the api and proxy children running.
process.once("SIGINT", () => {
  for (const child of children) void child.stop();
  process.exit(130);
});

try {
  progress(`stack up on ${stack.testDatabase.label}`);
  // The measured api: its own process when the database is shared (PostgreSQL), else here.
  const apiSettings = (on: TestStack) => ({
    ...on.env,
    ...HIGH_RATE_LIMITS,
    PROPGATE_ENV: "development",
    LOG_LEVEL: "info",
  });
  const childEnv = (instanceId: string, on: TestStack = stack) => ({
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? os.tmpdir(),
    ...apiSettings(on),
    INSTANCE_ID: instanceId,
    DATABASE_URL: on.testDatabase.url ?? "",
    // The heap budget docs/operations.md, "By hand", and the recipes under infra/ give every instance,
    // and the heap growth the image and the systemd units set.
    BUN_JSC_forceRAMSize: String(512 * MB),
    BUN_JSC_smallHeapGrowthFactor: HEAP_GROWTH_FACTOR,
  });
  /** A measured api instance on `on`'s database: a child process, or here without PostgreSQL. */
  async function startMeasuredApi(
    on: TestStack,
    instanceId: string,
    name = instanceId,
  ): Promise<{ url: string; pid: number | null }> {
    if (childMode) {
      const child = await startApiProcess(childEnv(instanceId, on), { logDir: workDir, name });
      children.push(child);
      return child;
    }
    const instance = await startApi(
      loadApiEnv({ ...apiSettings(on), INSTANCE_ID: instanceId, HOST: "127.0.0.1", PORT: "0" }),
      { database: on.testDatabase, logDestination: discard },
    );
    cleanups.push(() => instance.stop());
    return { url: instance.api.url, pid: null };
  }
  /** `count` residents of `on`'s identity issuer, each with `purposes` consented: their tokens. */
  async function residentsOf(
    on: TestStack,
    count: number,
    purposes: Parameters<typeof grant>[1] = ["intercom"],
    prefix = "bench-load",
  ): Promise<string[]> {
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) {
      const resident = await on.resident(`${prefix}-${i}`);
      await grant(resident, purposes);
      tokens.push(resident.token);
    }
    return tokens;
  }
  /** A door open by the `n`th of `tokens`, with an idempotency key of the run's. */
  const openDoorRequest = (tokens: string[]) => (tag: string) => (n: number) => ({
    path: "/trpc/intercom.openDoor",
    headers: {
      authorization: `Bearer ${tokens[n % tokens.length] ?? ""}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ deviceId: "door-a1", idempotencyKey: `bench-${tag}-${n}` }),
  });
  const residentTokens = await residentsOf(stack, RESIDENTS);
  const api = await startMeasuredApi(stack, "bench-api", "api");
  let proxy: { url: string; pid: number | null };
  let floor: { url: string; pid: number | null };
  let stackFloor: { url: string; pid: number | null };
  // The partner subject of the baselines' requests (any subject the simulator accepts).
  const subject = randomBytes(32).toString("base64url");
  const floorSettings = {
    target: stack.sims.intercom.url,
    issuer: stack.env.AUTH_ISSUER ?? "",
    audience: stack.env.AUTH_AUDIENCE ?? "",
    jwksUrl: stack.env.AUTH_JWKS_URL ?? "",
    clientId: stack.env.PARTNER_INTERCOM_CLIENT_ID ?? "",
    clientSecret: stack.env.PARTNER_INTERCOM_CLIENT_SECRET ?? "",
  };
  /** The audited floor on the stack's settings, for a second, profiled one (child mode). */
  let stackFloorEnv: Record<string, string> | null = null;
  if (childMode) {
    const proxyChild = await startBareProxyProcess(stack.sims.intercom.url);
    children.push(proxyChild);
    proxy = proxyChild;
    const floorEnv = {
      DATABASE_URL: dbUrl ?? "",
      AUTH_ISSUER: floorSettings.issuer,
      AUTH_AUDIENCE: floorSettings.audience,
      AUTH_JWKS_URL: floorSettings.jwksUrl,
      PARTNER_INTERCOM_CLIENT_ID: floorSettings.clientId,
      PARTNER_INTERCOM_CLIENT_SECRET: floorSettings.clientSecret,
    };
    const floorChild = await startAuditedFloorProcess(floorEnv, floorSettings.target);
    children.push(floorChild);
    floor = floorChild;
    stackFloorEnv = {
      ...floorEnv,
      BENCH_FLOOR_KIND: "stack",
      BENCH_FLOOR_SUBJECT: subject,
      BENCH_FLOOR_PARTNER_PATH: INTERCOM_PATH,
    };
    const stackFloorChild = await startAuditedFloorProcess(stackFloorEnv, floorSettings.target);
    children.push(stackFloorChild);
    stackFloor = stackFloorChild;
  } else {
    const inProcess = startBareProxy(stack.sims.intercom.url);
    cleanups.push(() => inProcess.stop());
    proxy = { url: inProcess.url, pid: null };
    const inProcessFloor = startAuditedFloor(stack.database.db, floorSettings);
    cleanups.push(() => inProcessFloor.stop());
    floor = { url: inProcessFloor.url, pid: null };
    const inProcessStackFloor = startStackFloor(stack.database.db, {
      ...floorSettings,
      subject,
      partnerPath: INTERCOM_PATH,
    });
    cleanups.push(() => inProcessStackFloor.stop());
    stackFloor = { url: inProcessStackFloor.url, pid: null };
  }
  progress(
    `api ${api.url} (${childMode ? `pid ${api.pid}` : "in process"}), proxy ${proxy.url}, floor ${floor.url}, stack floor ${stackFloor.url}`,
  );

  const runPrefix = randomBytes(4).toString("hex");
  let runCounter = 0;
  let partnerToken = "";

  const partnerRequest = (tag: string) => (n: number) => ({
    path: INTERCOM_PATH,
    headers: {
      authorization: `Bearer ${partnerToken}`,
      "content-type": "application/json",
      "idempotency-key": `bench-${tag}-${n}`,
    },
    body: JSON.stringify({ subject }),
  });
  const targets: Record<
    TargetName,
    { origin: string; pid: number | null; request(tag: string): (n: number) => LoadRequest }
  > = {
    direct: { origin: stack.sims.intercom.url, pid: null, request: partnerRequest },
    bare: { origin: proxy.url, pid: proxy.pid, request: partnerRequest },
    // The partner's request, with a resident's token as the bearer: the floor holds the partner's.
    floor: {
      origin: floor.url,
      pid: floor.pid,
      request: (tag) => (n) => ({
        ...partnerRequest(tag)(n),
        headers: {
          authorization: `Bearer ${residentTokens[n % residentTokens.length] ?? ""}`,
          "content-type": "application/json",
          "idempotency-key": `bench-${tag}-${n}`,
        },
      }),
    },
    // Propgate's own request: the same tokens, path and body.
    stack: {
      origin: stackFloor.url,
      pid: stackFloor.pid,
      request: openDoorRequest(residentTokens),
    },
    propgate: { origin: api.url, pid: api.pid, request: openDoorRequest(residentTokens) },
  };

  /**
   * One load run, with the target process's CPU, RSS and (propgate) audit rows and tokens.
   * `place`: a propgate api of another stack and database (the estate phase's), not the bench's.
   */
  async function measure(
    target: TargetName,
    kind: "closed" | "paced",
    rep: number,
    connections: number,
    seconds: number,
    rate?: number,
    place?: Place,
  ): Promise<RunRecord> {
    const { origin, pid, request } = place ?? targets[target];
    const on = place?.stack ?? stack;
    const database = place ? place.dbName : dbName;
    if (target === "direct" || target === "bare") partnerToken = await simToken(on);
    const tag = `${runPrefix}-${runCounter++}`;
    const propgate = target === "propgate";
    // Both audited targets write to their database: its rows and backends' CPU are theirs.
    const audited = propgate || target === "floor" || target === "stack";
    if (propgate) clearRecorders(on);
    const auditBefore = audited ? await countAuditEvents(on.database.db) : 0;
    const rssSamples: number[] = [];
    const sample = () => {
      const rss = pid === null ? process.memoryUsage().rss : readVm(pid);
      if (rss !== null) rssSamples.push(rss);
    };
    const sampler = setInterval(sample, 250);
    const cpuBefore = pid === null ? null : readCpuSeconds(pid);
    const mainBefore = pid === null ? null : readMainThreadCpuSeconds(pid);
    const dbBefore = audited && database ? postgresBackendCpu(database) : null;
    const activity = audited && pgSql && database ? sampleActivity(pgSql, database) : null;
    const wallStart = performance.now();
    const load = await runLoad({
      origin,
      connections,
      seconds,
      overallRate: rate,
      request: request(tag),
    });
    const wallSeconds = (performance.now() - wallStart) / 1000;
    sample();
    clearInterval(sampler);
    const cpuAfter = pid === null ? null : readCpuSeconds(pid);
    const mainAfter = pid === null ? null : readMainThreadCpuSeconds(pid);
    const activitySeen = activity ? await activity.stop() : null;
    const dbCpuSeconds =
      dbBefore && database ? backendCpuDelta(dbBefore, postgresBackendCpu(database)) : null;
    const auditRows = audited ? (await countAuditEvents(on.database.db)) - auditBefore : null;
    return {
      target,
      kind,
      rep,
      load,
      cpuSeconds: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
      mainThreadCpuSeconds:
        mainBefore !== null && mainAfter !== null ? mainAfter - mainBefore : null,
      dbCpuSeconds,
      activity: activitySeen,
      rssMaxBytes: rssSamples.length ? Math.max(...rssSamples) : null,
      auditRows,
      wallSeconds,
      tokenRequests: propgate ? on.sims.intercom.recorder.count({ operation: "token" }) : null,
    };
  }

  /**
   * Where a door open's time goes at a low rate, from Propgate's own Server-Timing, with the
   * api's main-thread CPU per round meanwhile (ms; null with the api in this process).
   */
  async function breakdownRun() {
    progress(`breakdown: ${CONFIG.breakdownOpens} sequential door opens, 10 ms apart`);
    partnerToken = await simToken(stack);
    const tag = `${runPrefix}-breakdown`;
    const mainBefore = api.pid === null ? null : readMainThreadCpuSeconds(api.pid);
    const figures = await measureBreakdown(
      { origin: targets.direct.origin, request: targets.direct.request(tag) },
      { origin: targets.propgate.origin, request: targets.propgate.request(tag) },
      { requests: CONFIG.breakdownOpens, gapMs: 10 },
    );
    const mainAfter = api.pid === null ? null : readMainThreadCpuSeconds(api.pid);
    const rounds = figures.requests + figures.warmup;
    const mainThreadMsPerRound =
      mainBefore !== null && mainAfter !== null ? ((mainAfter - mainBefore) * 1000) / rounds : null;
    return { ...figures, mainThreadMsPerRound };
  }

  // `--breakdown`: that measure alone, after a warm-up, on stdout; BENCHMARKS.md untouched.
  if (BREAKDOWN_ONLY) {
    await measure("propgate", "closed", -1, 16, CONFIG.warmSeconds);
    const breakdown = await breakdownRun();
    console.log(JSON.stringify(breakdown, null, 2));
    console.log(
      `Server-Timing p50 ms: ${breakdownLine(breakdown)}; client p50 ${fmt(breakdown.propgate.p50, 2)}, ` +
        `direct p50 ${fmt(breakdown.direct.p50, 2)}, one hop (GET /healthz) p50 ${fmt(breakdown.hop.p50, 2)}; ` +
        `api main thread ${fmt(breakdown.mainThreadMsPerRound, 3)} ms CPU per round`,
    );
  } else {
    // Token refreshes: a short lifetime, on an api that has not fetched a token yet.
    const idleRss = api.pid === null ? process.memoryUsage().rss : readVm(api.pid);
    const normalLifetime = stack.sims.intercom.faults.get().tokenLifetimeSeconds;
    stack.sims.intercom.faults.set({ tokenLifetimeSeconds: CONFIG.tokenLifetimeSeconds });
    progress(`token lifetime ${CONFIG.tokenLifetimeSeconds} s: propgate c=16`);
    const tokenRun = await measure("propgate", "closed", -1, 16, CONFIG.tokenSeconds);
    const tokenPartnerCalls = stack.sims.intercom.recorder.count({ operation: "intercom.open" });
    const tokenRecords = stack.sims.intercom.recorder
      .all({ operation: "token" })
      .map((r) => ({ at: r.at, status: r.status, scope: r.tokenClaims?.scope ?? null }));
    stack.sims.intercom.faults.set({ tokenLifetimeSeconds: normalLifetime });

    const order: TargetName[] = ["direct", "bare", "floor", "stack", "propgate"];
    progress("warm-up");
    for (const target of order) await measure(target, "closed", -1, 16, CONFIG.warmSeconds);

    const runs: RunRecord[] = [];
    for (let rep = 0; rep < CONFIG.reps; rep++) {
      for (const c of CONFIG.connections) {
        for (const target of order) {
          progress(`rep ${rep + 1}/${CONFIG.reps} closed c=${c} ${target}`);
          runs.push(await measure(target, "closed", rep, c, CONFIG.closedSeconds));
        }
      }
      for (const rate of CONFIG.rates) {
        const connections = Math.max(1, Math.round(rate / PACED_PER_CONNECTION));
        for (const target of order) {
          progress(`rep ${rep + 1}/${CONFIG.reps} paced ${rate} req/s ${target}`);
          runs.push(await measure(target, "paced", rep, connections, CONFIG.pacedSeconds, rate));
        }
      }
    }

    const breakdown = await breakdownRun();

    progress(`revocation: ${CONFIG.revokeRounds} rounds across two instances`);
    const b = await startInstance(stack, "bench-b");
    const revocation = await measureRevocation(stack, b, {
      rounds: CONFIG.revokeRounds,
      baselineOpens: CONFIG.baselineOpens,
    }).finally(() => b.stop());

    // Issue 29: the CPU a door open costs with traces off and on, on two fresh api children.
    let tracing: TracingCost | null = null;
    if (childMode) {
      progress(
        `tracing cost: off vs on, ${CONFIG.reps * 2} runs of ${CONFIG.closedSeconds} s at c = 16`,
      );
      tracing = await measureTracingCost({
        start: (name, extra) =>
          startApiProcess({ ...childEnv(name), ...extra }, { logDir: workDir, name }),
        request: (tag) => targets.propgate.request(`${runPrefix}-${tag}`),
        reps: CONFIG.reps * 2,
        seconds: CONFIG.closedSeconds,
        warmSeconds: CONFIG.warmSeconds,
      });
    }

    // Production's shared counts: rate limits and anomaly rules in Redis, against in memory.
    let sharedLimits: SharedLimitsCost | null = null;
    const redisUrl = process.env.REDIS_URL;
    if (childMode && redisUrl) {
      progress(`shared limits: memory vs Redis, ${CONFIG.reps * 2} rounds at c = 16 and c = 1`);
      sharedLimits = await measureSharedLimitsCost({
        redisUrl,
        start: (name, extra) =>
          startApiProcess({ ...childEnv(name), ...extra }, { logDir: workDir, name }),
        request: (tag) => targets.propgate.request(`${runPrefix}-${tag}`),
        reps: CONFIG.reps * 2,
        seconds: CONFIG.closedSeconds,
        warmSeconds: CONFIG.warmSeconds,
      });
    }

    // A resident who keeps a journal: each of their opens is journaled before it is answered.
    let journalCost: JournalCost | null = null;
    if (childMode && api.pid !== null && dbName) {
      progress(`journal: residents keeping none vs one, ${CONFIG.reps * 2} rounds at c = 16 and 1`);
      const keeping = await residentsOf(stack, RESIDENTS, ["intercom", "journal"], "bench-journal");
      journalCost = await measureJournalCost({
        origin: api.url,
        pid: api.pid,
        database: dbName,
        request: (kind, tag) =>
          openDoorRequest(kind === "keeping" ? keeping : residentTokens)(`${runPrefix}-${tag}`),
        reps: CONFIG.reps * 2,
        seconds: CONFIG.closedSeconds,
      });
    }

    // Aggregate: medians over repetitions per (kind, target, connections/rate).
    const cells = (kind: "closed" | "paced"): Cell[] => {
      const keys = kind === "closed" ? CONFIG.connections : CONFIG.rates;
      const out: Cell[] = [];
      for (const key of keys) {
        for (const target of order) {
          const mine = runs.filter(
            (r) =>
              r.kind === kind &&
              r.target === target &&
              (kind === "closed" ? r.load.connections === key : r.load.overallRate === key),
          );
          const first = mine[0];
          if (!first) continue;
          const per1000 = mine
            .map((r) => (r.cpuSeconds === null ? Number.NaN : (1e6 * r.cpuSeconds) / r.load.ok))
            .filter(Number.isFinite);
          const mainPer1000 = mine
            .map((r) =>
              r.mainThreadCpuSeconds === null
                ? Number.NaN
                : (1e6 * r.mainThreadCpuSeconds) / r.load.ok,
            )
            .filter(Number.isFinite);
          const dbPer1000 = mine
            .map((r) =>
              r.dbCpuSeconds === null
                ? Number.NaN
                : (1e6 * r.dbCpuSeconds) / Math.max(1, r.load.ok),
            )
            .filter(Number.isFinite);
          const seen = mine.flatMap((r) => (r.activity ? [r.activity] : []));
          const rss = mine.map((r) => r.rssMaxBytes ?? Number.NaN).filter(Number.isFinite);
          const audits = mine.filter((r) => r.auditRows !== null);
          out.push({
            target,
            kind,
            connections: first.load.connections,
            rate: first.load.overallRate,
            reps: mine.length,
            rps: median(mine.map((r) => r.load.rps)),
            p50: median(mine.map((r) => r.load.p50)),
            p90: median(mine.map((r) => r.load.p90)),
            p99: median(mine.map((r) => r.load.p99)),
            non2xx: mine.reduce((sum, r) => sum + r.load.non2xx, 0),
            errors: mine.reduce((sum, r) => sum + r.load.errors, 0),
            cpuMsPer1000: per1000.length ? median(per1000) : null,
            mainThreadMsPer1000: mainPer1000.length ? median(mainPer1000) : null,
            dbCpuMsPer1000: dbPer1000.length ? median(dbPer1000) : null,
            advisoryWaiting: seen.length ? median(seen.map((a) => a.advisoryWaiting)) : null,
            active: seen.length ? median(seen.map((a) => a.active)) : null,
            rssMaxBytes: rss.length ? Math.max(...rss) : null,
            auditRowsPerSecond: audits.length
              ? median(audits.map((r) => (r.auditRows ?? 0) / r.wallSeconds))
              : null,
            auditRowsPerRequest: audits.length
              ? median(audits.map((r) => (r.auditRows ?? 0) / Math.max(1, r.load.ok)))
              : null,
          });
        }
      }
      return out;
    };
    const closed = cells("closed");
    const paced = cells("paced");
    const cell = (list: Cell[], target: TargetName, match: (c: Cell) => boolean) =>
      list.find((c) => c.target === target && match(c));

    // Goals.
    const at16 = (target: TargetName) => cell(closed, target, (c) => c.connections === 16);
    const ratio16 = (at16("propgate")?.rps ?? Number.NaN) / (at16("bare")?.rps ?? Number.NaN);
    const paced100 = (target: TargetName) => cell(paced, target, (c) => c.rate === 100);
    const addedP50 = (paced100("propgate")?.p50 ?? Number.NaN) - (paced100("direct")?.p50 ?? 0);
    const addedP99 = (paced100("propgate")?.p99 ?? Number.NaN) - (paced100("direct")?.p99 ?? 0);
    const paced100Rps = paced100("propgate")?.rps ?? Number.NaN;
    const floorRatio16 = (at16("propgate")?.rps ?? Number.NaN) / (at16("floor")?.rps ?? Number.NaN);
    const floorAddedP50 =
      (paced100("propgate")?.p50 ?? Number.NaN) - (paced100("floor")?.p50 ?? Number.NaN);
    const floorAddedP99 =
      (paced100("propgate")?.p99 ?? Number.NaN) - (paced100("floor")?.p99 ?? Number.NaN);
    // The machine's own speed over the run: the partner simulator called directly at c = 16 does
    // the same work in every repetition. When it swings (a throttled or shared host), the
    // medians of the targets' req/s come from different machines and their ratios say nothing.
    const directByRep = runs
      .filter((r) => r.kind === "closed" && r.target === "direct" && r.load.connections === 16)
      .map((r) => r.load.rps);
    const speedSwing =
      directByRep.length > 1 ? Math.max(...directByRep) / Math.min(...directByRep) : 1;
    const steady = speedSwing <= MAX_SPEED_SWING;
    const unsteadyNote = `the machine's speed changed during the run: direct → partner-sim at c = 16 served ${directByRep.map((rps) => fmt(rps, 0)).join(", ")} req/s by repetition (max / min ${fmt(speedSwing, 2)} > ${MAX_SPEED_SWING}), so ratios of medians are not read as a verdict`;
    const ratioVerdict = (ok: boolean): Goal["verdict"] => (steady ? verdict(ok) : "not measured");
    const apiCpu16 = (at16("propgate")?.cpuMsPer1000 ?? Number.NaN) / 1000;
    const dbCpu16 = (at16("propgate")?.dbCpuMsPer1000 ?? Number.NaN) / 1000;
    const within = (value: number, limit: number, unit: string, digits = 2) =>
      value <= limit
        ? `${fmt(limit - value, digits)} ${unit} to spare`
        : `${fmt(value - limit, digits)} ${unit} over`;
    const saturatedNote =
      paced100Rps < 90 ? ` (propgate saturated: ${fmt(paced100Rps, 0)} of 100 req/s achieved)` : "";
    const revokeP50 = percentile(revocation.revokeToReject, 50);
    const revokeP99 = percentile(revocation.revokeToReject, 99);
    const propgateRuns = runs.filter((r) => r.target === "propgate");
    const loadRss = propgateRuns.map((r) => r.rssMaxBytes ?? Number.NaN).filter(Number.isFinite);
    const maxRss = loadRss.length ? Math.max(...loadRss) : Number.NaN;
    const rssByC = closed
      .filter((c) => c.target === "propgate")
      .map((c) => `${c.connections} → ${fmt((c.rssMaxBytes ?? Number.NaN) / MB, 0)}`)
      .join(", ");
    const hwm = api.pid === null ? null : readVm(api.pid, "VmHWM");

    // The cost of one awaited hop on this machine, measured while nothing else runs.
    const roundTrip: RoundTrip | null = pgSql ? await measureRoundTrip(pgSql) : null;
    // `audit verify` on generated rows, in a database of its own, after the load runs.
    const verify = await measureAuditVerify(QUICK ? 100_000 : 1_000_000);
    // One admin.audit.list page (100 rows) at 100,000 rows, under every filter, deep both ways.
    const pages = await measureAuditPages(100_000);
    // One events.list page at 1 M journal rows (100,000 quick): hot and typical residents.
    progress("journal: seeding and paging");
    const journal = await measureJournalPages(QUICK ? 100_000 : 1_000_000, {
      residents: QUICK ? 2_000 : 20_000,
      runs: QUICK ? 10 : 50,
    });

    const verdict = (ok: boolean, measurable = true): Goal["verdict"] =>
      !measurable ? "n/a" : ok ? "met" : "MISSED";
    const goals: Goal[] = [
      {
        goal: "tracing on (sampler 1.0, exported) adds ≤ 10 % api CPU per door open",
        measured: tracing
          ? `${fmt(tracing.overheadPercent, 1)} % (${fmt(tracing.offMs, 3)} → ${fmt(tracing.onMs, 3)} ms per open)`
          : "not measured",
        verdict: verdict((tracing?.overheadPercent ?? Number.NaN) <= 10, tracing !== null),
        detail: tracing
          ? tracing.overheadPercent <= 10
            ? `${fmt(10 - tracing.overheadPercent, 1)} points to spare`
            : `${fmt(tracing.overheadPercent - 10, 1)} points over`
          : "needs the api in a child process (DATABASE_URL)",
      },
      {
        goal: "throughput ≥ 50 % of the bare proxy at c = 16 (stretch 75 %)",
        measured: `${fmt(100 * ratio16, 1)} % (${fmt(at16("propgate")?.rps, 0)} vs ${fmt(at16("bare")?.rps, 0)} req/s)`,
        verdict: ratioVerdict(ratio16 >= 0.5),
        detail: !steady
          ? unsteadyNote
          : ratio16 >= 0.75
            ? "stretch met"
            : ratio16 >= 0.5
              ? `stretch missed by ${fmt(75 - 100 * ratio16, 1)} points`
              : `${fmt(50 - 100 * ratio16, 1)} points short; needs ${fmt(0.5 / ratio16, 1)}× today's req/s`,
      },
      {
        goal: "throughput ≥ 80 % of the audited floor at c = 16",
        measured: `${fmt(100 * floorRatio16, 1)} % (${fmt(at16("propgate")?.rps, 0)} vs ${fmt(at16("floor")?.rps, 0)} req/s)`,
        verdict: Number.isFinite(floorRatio16) ? ratioVerdict(floorRatio16 >= 0.8) : "n/a",
        detail: steady
          ? within(80, 100 * floorRatio16, "points", 1).replace("over", "short")
          : unsteadyNote,
      },
      {
        goal: "api CPU per door open at c = 16 ≤ 0.35 ms (all threads)",
        measured: `${fmt(apiCpu16, 3)} ms`,
        verdict: verdict(apiCpu16 <= 0.35, childMode),
        detail: childMode ? within(apiCpu16, 0.35, "ms", 3) : "needs DATABASE_URL",
      },
      {
        goal: "PostgreSQL CPU per door open at c = 16 ≤ 0.15 ms",
        measured: `${fmt(dbCpu16, 3)} ms (audited floor: ${fmt((at16("floor")?.dbCpuMsPer1000 ?? Number.NaN) / 1000, 3)} ms)`,
        verdict: verdict(dbCpu16 <= 0.15, childMode),
        detail: childMode ? within(dbCpu16, 0.15, "ms", 3) : "needs DATABASE_URL",
      },
      {
        goal: "paced 100 req/s: added p50 ≤ 1 ms over the audited floor",
        measured: `${fmt(floorAddedP50, 2)} ms`,
        verdict: verdict(floorAddedP50 <= 1, Number.isFinite(floorAddedP50)),
        detail: `${within(floorAddedP50, 1, "ms")}${saturatedNote}`,
      },
      {
        goal: "paced 100 req/s: added p99 ≤ 5 ms over the audited floor",
        measured: `${fmt(floorAddedP99, 2)} ms`,
        verdict: verdict(floorAddedP99 <= 5, Number.isFinite(floorAddedP99)),
        detail: `${within(floorAddedP99, 5, "ms")}${saturatedNote}`,
      },
      {
        goal: "paced 100 req/s: added p50 ≤ 2 ms over direct",
        measured: `${fmt(addedP50, 2)} ms (p99 ${fmt(addedP99, 2)} ms)`,
        verdict: verdict(addedP50 <= 2, Number.isFinite(addedP50)),
        detail: `${within(addedP50, 2, "ms")}${saturatedNote}`,
      },
      {
        goal: "revoke → reject p99 < 50 ms (two instances)",
        measured: `${fmt(revokeP99, 1)} ms (p50 ${fmt(revokeP50, 1)}; ${revocation.revokeToReject.length} rounds${revocation.timedOut ? `, ${revocation.timedOut} never rejected` : ""})`,
        verdict: verdict(revokeP99 < 50 && revocation.timedOut === 0),
        detail:
          revokeP99 < 50
            ? `${fmt(50 - revokeP99, 1)} ms to spare`
            : `${fmt(revokeP99 - 50, 1)} ms over`,
      },
      {
        goal: "api RSS under load < 150 MB",
        measured: childMode
          ? `${fmt(maxRss / MB, 1)} MB (max VmRSS sampled under load)`
          : `${fmt(maxRss / MB, 1)} MB (whole bench process)`,
        verdict: verdict(maxRss < 150 * MB, childMode),
        detail: !childMode
          ? "in-process run: the RSS includes load generator, simulators and PGlite; set DATABASE_URL"
          : maxRss < 150 * MB
            ? `${fmt(150 - maxRss / MB, 1)} MB to spare`
            : `${fmt(maxRss / MB - 150, 1)} MB over`,
      },
      {
        goal: "`audit verify` of 1 M rows < 5 s",
        measured: `${fmt(verify.secondsPerMillion, 2)} s per million rows (${verify.rows.toLocaleString("en")} rows in ${fmt(verify.seconds, 2)} s${verify.ok ? "" : ", NOT intact"})`,
        verdict: verify.ok ? verdict(verify.secondsPerMillion < 5, true) : "MISSED",
        detail:
          verify.secondsPerMillion < 5
            ? `${fmt(5 - verify.secondsPerMillion, 2)} s to spare`
            : `${fmt(verify.secondsPerMillion - 5, 2)} s over`,
      },
      {
        goal: "audit page at 100,000 rows < 300 ms",
        measured: `worst ${fmt(pages.worstMs, 1)} ms (${pages.worstQuery}), median ${fmt(pages.medianMs, 1)} ms over ${pages.pages} pages`,
        verdict: verdict(pages.worstMs < 300),
        detail:
          pages.worstMs < 300
            ? `${fmt(300 - pages.worstMs, 1)} ms to spare`
            : `${fmt(pages.worstMs - 300, 1)} ms over`,
      },
      {
        goal: `\`events.list\` page at ${journal.rows.toLocaleString("en")} journal rows < 50 ms (p95)`,
        measured: `worst p95 ${fmt(journal.worst.p95, 1)} ms (${journal.worst.name}), p50 ${fmt(journal.worst.p50, 1)} ms; ${journal.pages.length} page shapes × ${journal.runs} runs`,
        verdict: verdict(journal.worst.p95 < 50),
        detail:
          journal.worst.p95 < 50
            ? `${fmt(50 - journal.worst.p95, 1)} ms to spare`
            : `${fmt(journal.worst.p95 - 50, 1)} ms over`,
      },
    ];
    const missed = goals.some((g) => g.verdict === "MISSED");

    // Profile one short propgate run on a fresh, profiled api child.
    let profile: Summary["profile"] = null;
    let profileNote = "No goal missed: no profile taken.";
    let profileCopy: string | null = null;
    let postgresProfile: PostgresProfile | string = "No goal missed: no profile taken.";
    /**
     * A second child of `target` under `--cpu-prof`, warmed then run at c = 16; only the samples
     * of the measured run are counted, and its main thread's CPU per request with them.
     */
    async function profileChild(
      target: "propgate" | "stack",
      /** The profile's name: `start` writes `<profileDir>/<name>.cpuprofile`. */
      name: string,
      start: (profileDir: string, name: string) => Promise<ChildServer>,
      during?: (backends: number[]) => { done: Promise<PostgresProfile | string> },
    ) {
      const profileDir = join(workDir, `profile-${target}`);
      mkdirSync(profileDir);
      const profiled = await start(profileDir, name);
      const measured = targets[target];
      const { origin, pid } = measured;
      let runStart = 0;
      let runEnd = 0;
      let run: RunRecord;
      let recorded: PostgresProfile | string | null = null;
      try {
        measured.origin = profiled.url;
        measured.pid = profiled.pid;
        // Warmed as the estate's fresh apis are: a 1 s warm-up left JavaScriptCore's first tiers
        // in the profile (zod's compiled parsers at 9-12 % of the samples, 0.5 % once settled).
        await measure(target, "closed", -1, 16, CONFIG.freshApiWarmSeconds);
        // PostgreSQL's backends of the bench database, the profiled child's among them by now.
        const recording = during?.(dbName ? [...postgresBackendCpu(dbName).keys()] : []);
        runStart = performance.now();
        run = await measure(target, "closed", -1, 16, CONFIG.profileSeconds);
        runEnd = performance.now();
        if (recording) recorded = await recording.done;
      } finally {
        measured.origin = origin;
        measured.pid = pid;
        await profiled.stop();
      }
      const exited = performance.now();
      const file = join(profileDir, `${name}.cpuprofile`);
      const window = { fromEndMs: exited - runStart, toEndMs: exited - runEnd };
      const mainMsPerRequest =
        run.mainThreadCpuSeconds === null || run.load.ok === 0
          ? null
          : (1000 * run.mainThreadCpuSeconds) / run.load.ok;
      return { file, summary: topFrames(file, { window }), mainMsPerRequest, recorded };
    }
    async function profileApi() {
      const api = await profileChild(
        "propgate",
        "api-profiled",
        (profileDir, name) =>
          startApiProcess(childEnv("bench-profiled"), {
            logDir: workDir,
            name,
            cpuProfileDir: profileDir,
          }),
        (backends) =>
          recordPostgres(backends, CONFIG.profileSeconds, join(workDir, "postgres.perf.data")),
      );
      if (api.recorded !== null) postgresProfile = api.recorded;
      // The audited floor on the stack, profiled alike: the same concerns, side by side. Its
      // failure costs the table its floor column, not the api's profile.
      const floorEnv = stackFloorEnv;
      const floor = floorEnv
        ? await profileChild("stack", "audited-floor", (profileDir, name) =>
            startAuditedFloorProcess(floorEnv, stack.sims.intercom.url, {
              cpuProfile: { dir: profileDir, name },
            }),
          ).catch((error: unknown) => {
            console.error(error);
            progress(`profiled stack floor failed: ${String(error).split("\n")[0]}`);
            return null;
          })
        : null;
      return { api, floor };
    }
    if (missed && childMode) {
      progress(`cpu profile: propgate c=16 for ${CONFIG.profileSeconds} s`);
      try {
        const taken = await profileApi();
        profileCopy = taken.api.file;
        profile = {
          ...taken.api.summary,
          seconds: CONFIG.profileSeconds,
          mainMsPerRequest: taken.api.mainMsPerRequest,
          floor: taken.floor
            ? { ...taken.floor.summary, mainMsPerRequest: taken.floor.mainMsPerRequest }
            : null,
        };
        profileNote =
          "A goal was missed, so a second api child ran with `bun --cpu-prof`: " +
          `${CONFIG.freshApiWarmSeconds} s of warm-up at c = 16, then ` +
          `${CONFIG.profileSeconds} s of propgate at c = 16; only samples of that run are counted ` +
          "(a window counted back from the child's exit, when Bun writes the profile). " +
          "A second audited floor on the stack was profiled the same way after it.";
      } catch (error) {
        console.error(error);
        profileNote = `A goal was missed, but the profiled api run failed: ${String(error).split("\n")[0]}`;
      }
    } else if (missed) {
      profileNote =
        "A goal was missed, but the api runs in the bench process (no DATABASE_URL): " +
        "`--cpu-prof` needs the api in a child process, so no profile was taken.";
    }

    // `--estate`: door opens on a small estate and a large one, alternating.
    let estate: {
      size: EstateSize;
      seeding: Record<string, number>;
      small: EstateDoorOpens;
      large: EstateDoorOpens;
      pages: Awaited<ReturnType<typeof timeEstatePages>>;
      verify: Awaited<ReturnType<typeof measureAuditVerify>>;
      seconds: number;
    } | null = null;
    if (ESTATE_ARG) {
      const estateBegan = performance.now();
      const size: EstateSize = {
        devices: Math.round(LARGE_ESTATE.devices * ESTATE_SCALE),
        residents: Math.round(LARGE_ESTATE.residents * ESTATE_SCALE),
        auditRows: Math.round(LARGE_ESTATE.auditRows * ESTATE_SCALE),
      };
      // Two fresh stacks alike, each with its own database and measured api; one of them grows.
      // Their door opens alternate, so the machine's drift over the phase hits both.
      const openPlace = async (name: string): Promise<Place> => {
        const on = await startTestStack({ logLevel: "warn", env: HIGH_RATE_LIMITS });
        cleanups.push(() => on.close());
        const tokens = await residentsOf(on, RESIDENTS);
        const measured = await startMeasuredApi(on, `bench-estate-${name}`);
        return {
          stack: on,
          dbName: databaseName(on.testDatabase.url),
          origin: measured.url,
          pid: measured.pid,
          request: openDoorRequest(tokens),
        };
      };
      progress("estate: two fresh stacks, each with its own database and api");
      const places = { small: await openPlace("small"), large: await openPlace("large") };
      progress(
        `estate: growing one to ${size.devices} devices, ${size.residents} residents, ${size.auditRows} audit rows`,
      );
      const grown = await growEstate(places.large.stack.database.db, size);
      // Fresh api processes: JavaScriptCore takes 10-20 s of load at c = 16 to settle its tiers
      // (CPU per open about 0.8 ms in the first 10 s, 0.5-0.6 after); the main phase's api has had
      // the token phase's 30 s by its first measured run.
      for (const place of [places.small, places.large]) {
        await measure("propgate", "closed", -1, 16, CONFIG.freshApiWarmSeconds, undefined, place);
      }
      const seen = {
        small: { closed: [] as RunRecord[], paced: [] as RunRecord[], writes: noWrites() },
        large: { closed: [] as RunRecord[], paced: [] as RunRecord[], writes: noWrites() },
      };
      for (let rep = 0; rep < CONFIG.reps; rep++) {
        // Each rep swaps which estate goes first.
        const order = rep % 2 === 0 ? (["small", "large"] as const) : (["large", "small"] as const);
        for (const label of order) {
          progress(`estate: rep ${rep + 1}/${CONFIG.reps} ${label}, closed c=16 and paced 100`);
          const before = pgSql ? await serverWrites(pgSql) : null;
          const place = places[label];
          seen[label].closed.push(
            await measure("propgate", "closed", -1, 16, CONFIG.closedSeconds, undefined, place),
          );
          seen[label].paced.push(
            await measure("propgate", "paced", -1, 4, CONFIG.pacedSeconds, 100, place),
          );
          if (before && pgSql) {
            seen[label].writes = addWrites(
              seen[label].writes,
              writesSince(before, await serverWrites(pgSql)),
            );
          }
        }
      }
      const doorOpens = (label: "small" | "large"): EstateDoorOpens => {
        const { closed: closedRuns, paced: pacedRuns, writes } = seen[label];
        return {
          p50: median(closedRuns.map((r) => r.load.p50)),
          p99: median(closedRuns.map((r) => r.load.p99)),
          cpuMs: median(
            closedRuns.map((r) =>
              r.cpuSeconds === null ? Number.NaN : (1000 * r.cpuSeconds) / Math.max(1, r.load.ok),
            ),
          ),
          dbCpuMs: median(
            closedRuns.map((r) =>
              r.dbCpuSeconds === null
                ? Number.NaN
                : (1000 * r.dbCpuSeconds) / Math.max(1, r.load.ok),
            ),
          ),
          pacedP50: median(pacedRuns.map((r) => r.load.p50)),
          writes: pgSql ? writes : null,
        };
      };
      const small = doorOpens("small");
      const large = doorOpens("large");
      progress("estate: admin audit pages, then `audit verify` on a chain of that size");
      const estatePages = await timeEstatePages(places.large.stack.database.db, size, grown);
      const estateVerify = await measureAuditVerify(size.auditRows);
      estate = {
        size,
        seeding: grown.seconds,
        small,
        large,
        pages: estatePages,
        verify: estateVerify,
        seconds: (performance.now() - estateBegan) / 1000,
      };
      const ratio = (a: number, b: number) => (100 * (a - b)) / b;
      const p50Change = ratio(large.p50, small.p50);
      const cpuChange = ratio(large.cpuMs, small.cpuMs);
      goals.push(
        {
          goal: "large estate: door-open p50 within 10 % of the small estate (c = 16)",
          measured: `${fmt(large.p50, 2)} vs ${fmt(small.p50, 2)} ms (${fmt(p50Change, 1)} %)`,
          verdict: verdict(p50Change <= 10),
          detail: within(p50Change, 10, "points", 1),
        },
        {
          goal: "large estate: api CPU per door open within 10 % of the small estate (c = 16)",
          measured: `${fmt(large.cpuMs, 3)} vs ${fmt(small.cpuMs, 3)} ms (${fmt(cpuChange, 1)} %)`,
          verdict: verdict(cpuChange <= 10, childMode),
          detail: childMode ? within(cpuChange, 10, "points", 1) : "needs DATABASE_URL",
        },
        {
          goal: `large estate: audit page at ${size.auditRows.toLocaleString("en")} rows < 300 ms`,
          measured: `worst ${fmt(estatePages.worstMs, 1)} ms (${estatePages.worstQuery}), median ${fmt(estatePages.medianMs, 1)} ms`,
          verdict: verdict(estatePages.worstMs < 300),
          detail: within(estatePages.worstMs, 300, "ms", 1),
        },
        {
          goal: `large estate: \`audit verify\` of ${size.auditRows.toLocaleString("en")} rows < 5 s per million`,
          measured: `${fmt(estateVerify.secondsPerMillion, 2)} s per million (${fmt(estateVerify.seconds, 1)} s${estateVerify.ok ? "" : ", NOT intact"})`,
          verdict: estateVerify.ok ? verdict(estateVerify.secondsPerMillion < 5) : "MISSED",
          detail: within(estateVerify.secondsPerMillion, 5, "s", 2),
        },
      );
    }

    const allPropgateCalls = propgateRuns.reduce((sum, r) => sum + r.load.ok, 0);
    const allPropgateTokens = propgateRuns.reduce((sum, r) => sum + (r.tokenRequests ?? 0), 0);
    const tokenCalls = Math.max(1, tokenRun.load.ok);
    const at16Propgate = at16("propgate");
    const at16Bare = at16("bare");
    const at16Floor = at16("floor");
    const at16Stack = at16("stack");
    const measures: Measure[] = [
      {
        measure:
          "api CPU per door open, tracing off / on but sampled out / on (sampler 1.0, OTLP to a local receiver), ms",
        value: tracing
          ? `${fmt(tracing.offMs, 3)} / ${fmt(tracing.unsampledMs, 3)} / ${fmt(tracing.onMs, 3)}`
          : "not measured",
        note: tracing
          ? `medians of ${tracing.runs.off.length} closed-loop runs of ${CONFIG.closedSeconds} s at c = 16 per api child, alternating (off ${tracing.runs.off.map((ms) => fmt(ms, 3)).join(", ")}; sampled out ${tracing.runs.unsampled.map((ms) => fmt(ms, 3)).join(", ")}; on ${tracing.runs.on.map((ms) => fmt(ms, 3)).join(", ")}); ${tracing.opens.off} / ${tracing.opens.unsampled} / ${tracing.opens.on} opens; the receiver decoded ${fmt(tracing.spansPerOpen, 1)} spans per traced open. Off, every span helper calls its work directly (\`TRACING_OFF\`): no span, no context switch`
          : "needs the api in a child process (DATABASE_URL)",
      },
      {
        measure:
          "rate limits and anomaly counts in memory / in Redis (REDIS_URL, as instances behind one load balancer count): api CPU per door open at c = 16, ms; req/s at c = 16; p50 at c = 1, ms",
        value: sharedLimits
          ? `${fmt(sharedLimits.memory.cpuMs, 3)} / ${fmt(sharedLimits.redis.cpuMs, 3)} ms (${fmt(sharedLimits.overheadPercent, 1)} %); ${fmt(sharedLimits.memory.rps, 0)} / ${fmt(sharedLimits.redis.rps, 0)} req/s; ${fmt(sharedLimits.memory.p50c1, 2)} / ${fmt(sharedLimits.redis.p50c1, 2)} ms`
          : "not measured",
        note: sharedLimits
          ? `two fresh api children on the bench database, one with REDIS_URL (a key prefix of this run's); after a warm-up each, ${CONFIG.reps * 2} rounds alternating which goes first, each a closed loop of ${CONFIG.closedSeconds} s at c = 16 then one at c = 1; medians; ${sharedLimits.opens} opens. Per door open the limits \`ip\`, \`resident\` and \`open\` (the last two asked together) and the unusual-opening rule's count (off the request's path) go to Redis`
          : childMode
            ? "set REDIS_URL (e.g. redis://127.0.0.1:6379) to measure it"
            : "needs the api in a child process (DATABASE_URL) and REDIS_URL",
      },
      {
        measure:
          "a door open by a resident who keeps no journal / who keeps one: api CPU and PostgreSQL CPU per open at c = 16, ms; req/s at c = 16; p50 at c = 1, ms",
        value: journalCost
          ? `api ${fmt(journalCost.without.apiMs, 3)} / ${fmt(journalCost.keeping.apiMs, 3)} ms, PostgreSQL ${fmt(journalCost.without.dbMs, 3)} / ${fmt(journalCost.keeping.dbMs, 3)} ms; ${fmt(journalCost.without.rps, 0)} / ${fmt(journalCost.keeping.rps, 0)} req/s; ${fmt(journalCost.without.p50c1, 2)} / ${fmt(journalCost.keeping.p50c1, 2)} ms`
          : "not measured",
        note: journalCost
          ? `the measured api child, ${RESIDENTS} residents with \`intercom\` consent against ${RESIDENTS} with \`intercom\` and \`journal\` (each open also journaled: \`createJournalWriter\`, the entries of concurrent opens in one transaction, committed before the answer); ${CONFIG.reps * 2} rounds alternating which goes first, each a closed loop of ${CONFIG.closedSeconds} s at c = 16 then one at c = 1; medians; ${journalCost.opens} opens. The rest of the bench's residents keep no journal`
          : "needs the api in a child process (DATABASE_URL)",
      },
      {
        measure: `token requests per 10,000 calls, token lifetime ${CONFIG.tokenLifetimeSeconds} s`,
        value: fmt((10_000 * (tokenRun.tokenRequests ?? 0)) / tokenCalls, 1),
        note:
          `${tokenRun.tokenRequests} \`token\` records at the sim over ${tokenRun.load.ok} door opens ` +
          `(${tokenPartnerCalls} partner requests) in ${fmt(tokenRun.wallSeconds, 0)} s at c = 16; ` +
          `the token source refreshes at half the lifetime counted from 1 s before its request, so ≈ ${fmt(1 + tokenRun.wallSeconds / (CONFIG.tokenLifetimeSeconds / 2 - 1), 0)} expected`,
      },
      {
        measure: `token requests per 10,000 calls, lifetime ${normalLifetime} s`,
        value: fmt((10_000 * allPropgateTokens) / Math.max(1, allPropgateCalls), 2),
        note: `${allPropgateTokens} over the ${allPropgateCalls} door opens of every measured propgate run`,
      },
      {
        measure: "revoke → reject, p50 / p99 ms",
        value: `${fmt(revokeP50, 1)} / ${fmt(revokeP99, 1)}`,
        note:
          `revoke on instance A, first CONSENT_REQUIRED on B for a request started after it; ` +
          `${revocation.revokeToReject.length} rounds; baseline: a door open through B ` +
          `p50 ${fmt(percentile(revocation.baseline, 50), 1)} ms, p99 ${fmt(percentile(revocation.baseline, 99), 1)} ms ` +
          `(${revocation.baseline.length} sequential)`,
      },
      {
        measure: "audit rows per second, propgate c = 16",
        value: fmt(at16Propgate?.auditRowsPerSecond, 0),
        note: `\`countAuditEvents\` before and after each run over its wall time; ${fmt(at16Propgate?.auditRowsPerRequest, 2)} rows per door open`,
      },
      {
        measure: "PostgreSQL backends waiting on an advisory lock, propgate c = 16",
        value: childMode
          ? `${fmt(at16Propgate?.advisoryWaiting, 1)} of ${fmt(at16Propgate?.active, 1)} active`
          : "not measured",
        note: childMode
          ? "mean over `pg_stat_activity` of the bench database sampled every 100 ms during the run (`wait_event_type = 'Lock'`, `wait_event = 'advisory'`)"
          : "needs PostgreSQL (DATABASE_URL)",
      },
      {
        measure: "api RSS under load, max / idle MB",
        value: `${fmt(maxRss / MB, 1)} / ${fmt(idleRss === null ? Number.NaN : idleRss / MB, 1)}`,
        note: childMode
          ? `VmRSS of the api child (/proc/${api.pid}/status) sampled every 250 ms during every propgate run; max by c: ${rssByC}; VmHWM at the end ${fmt(hwm === null ? Number.NaN : hwm / MB, 1)} MB`
          : "process.memoryUsage().rss of the bench process, which also holds the load generator, both simulators and PGlite",
      },
      {
        measure:
          "CPU seconds per 1,000 requests at c = 16: api / its PostgreSQL backends / bare proxy",
        value: childMode
          ? [at16Propgate?.cpuMsPer1000, at16Propgate?.dbCpuMsPer1000, at16Bare?.cpuMsPer1000]
              .map((ms) => fmt((ms ?? Number.NaN) / 1000, 3))
              .join(" / ")
          : "not measured",
        note: childMode
          ? "utime + stime from /proc/<pid>/stat over each run: the api child, the server's backends whose process title names the bench database (WAL writer and checkpointer not included), the proxy child"
          : "the api shares the bench process with the load generator: its CPU cannot be told apart",
      },
      {
        measure:
          "CPU per request by c, api main thread / api other threads / bare proxy / audited floor / audited floor on Hono + tRPC + zod (whole processes), ms",
        value: childMode
          ? CONFIG.connections
              .map((c) => {
                const mine = cell(closed, "propgate", (x) => x.connections === c);
                const bare = cell(closed, "bare", (x) => x.connections === c);
                const floorCell = cell(closed, "floor", (x) => x.connections === c);
                const stackCell = cell(closed, "stack", (x) => x.connections === c);
                const main = (mine?.mainThreadMsPer1000 ?? Number.NaN) / 1000;
                const rest = (mine?.cpuMsPer1000 ?? Number.NaN) / 1000 - main;
                const whole = (x: Cell | undefined) =>
                  fmt((x?.cpuMsPer1000 ?? Number.NaN) / 1000, 2);
                return `c = ${c}: ${fmt(main, 2)} / ${fmt(rest, 2)} / ${whole(bare)} / ${whole(floorCell)} / ${whole(stackCell)}`;
              })
              .join("; ")
          : "not measured",
        note: childMode
          ? "/proc/<pid>/task/<pid>/stat (the event loop, where JavaScript runs) against the whole process (Bun's HTTP client thread, JIT and GC helpers), per successful request"
          : "needs the api in a child process (DATABASE_URL)",
      },
      {
        measure: "a door open one at a time, 10 ms apart: Server-Timing p50 ms",
        value: breakdownLine(breakdown),
        note:
          `${breakdown.requests} opens through Propgate, each after a request straight to the partner ` +
          `(p50 ${fmt(breakdown.direct.p50, 2)} ms, p90 ${fmt(breakdown.direct.p90, 2)}), 10 ms apart; ` +
          `the client saw p50 ${fmt(breakdown.propgate.p50, 2)} ms, p90 ${fmt(breakdown.propgate.p90, 2)}; ` +
          `one hop to the idle api and back (\`GET /healthz\`, same pace) p50 ${fmt(breakdown.hop.p50, 2)} ms; ` +
          `the api's main thread spent ${fmt(breakdown.mainThreadMsPerRound, 2)} ms of CPU per round. ` +
          "`Server-Timing` (served outside production): `partner` from the committed attempt row to the " +
          "read answer, `audit` waiting for that row's commit, `gateway` the rest of `total` (auth, " +
          "limits, checks, parsing, the response)",
      },
      {
        measure: "one sequential round trip (`select 1`), wall / client CPU, µs",
        value: roundTrip
          ? `${fmt(roundTrip.wallUs, 0)} / ${fmt(roundTrip.cpuUs, 0)}`
          : "not measured",
        note: roundTrip
          ? `${roundTrip.queries} queries one at a time on one Bun.SQL connection, after the load runs: the event loop sleeps and wakes once per query, and that costs the client this much CPU on this machine, the floor under every awaited hop of a request at a low rate`
          : "needs PostgreSQL (DATABASE_URL)",
      },
      {
        measure: "`audit verify`, seconds per million rows",
        value: fmt(verify.secondsPerMillion, 2),
        note: `${verify.rows.toLocaleString("en")} generated rows of one chain in a throwaway database (10,000 rows a statement, without the indexes verify never reads, then VACUUM ANALYZE as autovacuum would), then \`verifyAuditChain\` over all of them, timed alone`,
      },
      {
        measure: "`events.list` page (`listJournal` + JSON), p50 / p95 ms",
        value: journal.pages
          .map((page) => `${page.name}: ${fmt(page.p50, 1)} / ${fmt(page.p95, 1)}`)
          .join("; "),
        note:
          `${journal.rows.toLocaleString("en")} journal rows (each with its delivered webhook message) ` +
          `made by one \`generate_series\` INSERT in a throwaway database over 120 days, ` +
          `${journal.residents.toLocaleString("en")} residents: ${journal.hotResidents} hot ones with ` +
          `${journal.hotRows.toLocaleString("en")} rows each, the typical one measured has ` +
          `${journal.typicalRows}; then VACUUM ANALYZE; pages of 50, ${journal.runs} runs after a warm-up ` +
          `round; seeding took ${fmt(journal.seedSeconds, 0)} s`,
      },
      {
        measure: "one `pruneJournal` batch past the retention, ms",
        value: fmt(journal.prune.ms, 1),
        note: `${journal.prune.entries} of a batch of ${journal.prune.batch} entries older than 90 days deleted (their webhook messages by the cascade), at ${journal.rows.toLocaleString("en")} rows`,
      },
    ];

    const perOpen = (ms: number | null | undefined) => fmt((ms ?? Number.NaN) / 1000, 2);
    const topFrame = profile?.frames[0];
    const findings = [
      ...(steady ? [] : [`Careful: ${unsteadyNote}.`]),
      ...(estate
        ? [
            `Large estate (${estate.size.devices.toLocaleString("en")} devices, ${estate.size.residents.toLocaleString("en")} residents with consents and partner subjects, ${estate.size.auditRows.toLocaleString("en")} audit rows, all by \`generate_series\` in the large estate's own database, its door opens alternating with those of a small one alike but for that, each api warmed ${CONFIG.freshApiWarmSeconds} s at c = 16 first; seeding ${Object.entries(
              estate.seeding,
            )
              .map(([name, s]) => `${name} ${fmt(s, 0)} s`)
              .join(
                ", ",
              )}; the phase took ${fmt(estate.seconds / 60, 1)} min): door open at c = 16 ` +
              `p50 ${fmt(estate.small.p50, 2)} → ${fmt(estate.large.p50, 2)} ms, p99 ${fmt(estate.small.p99, 2)} → ${fmt(estate.large.p99, 2)} ms, ` +
              `api CPU per open ${fmt(estate.small.cpuMs, 3)} → ${fmt(estate.large.cpuMs, 3)} ms, PostgreSQL CPU per open ${fmt(estate.small.dbCpuMs, 3)} → ${fmt(estate.large.dbCpuMs, 3)} ms; paced 100 req/s p50 ${fmt(estate.small.pacedP50, 2)} → ${fmt(estate.large.pacedP50, 2)} ms; ` +
              `during the small / large door opens the server ran ${writesText(estate.small.writes)} / ${writesText(estate.large.writes)}; ` +
              `admin audit page worst ${fmt(estate.pages.worstMs, 1)} ms (${estate.pages.worstQuery}); \`audit verify\` ${fmt(estate.verify.secondsPerMillion, 2)} s per million rows over ${estate.verify.rows.toLocaleString("en")}.`,
          ]
        : []),
      `At c = 16 Propgate served ${fmt(100 * ratio16, 1)} % of the bare proxy's req/s ` +
        `(${fmt(at16Propgate?.rps, 0)} vs ${fmt(at16Bare?.rps, 0)}), p50 ${fmt(at16Propgate?.p50, 1)} ms ` +
        `vs ${fmt(at16Bare?.p50, 1)} ms; at c = 1 (one request at a time) its p50 was ` +
        `${fmt(cell(closed, "propgate", (c) => c.connections === 1)?.p50, 1)} ms against ` +
        `${fmt(cell(closed, "direct", (c) => c.connections === 1)?.p50, 2)} ms direct.`,
      `Against the audited floor (the same JWT, the same audit writer and database, nothing else) ` +
        `Propgate served ${fmt(100 * floorRatio16, 1)} % of its req/s at c = 16 ` +
        `(${fmt(at16Floor?.rps, 0)} req/s, p50 ${fmt(at16Floor?.p50, 1)} ms` +
        (childMode
          ? `, ${perOpen(at16Floor?.cpuMsPer1000)} ms of its own CPU and ${perOpen(at16Floor?.dbCpuMsPer1000)} ms of PostgreSQL CPU per request)`
          : ")") +
        `; at a paced 100 req/s it added ${fmt(floorAddedP50, 2)} ms p50 and ${fmt(floorAddedP99, 2)} ms p99 over it.`,
      `The same floor on Hono + tRPC + zod, answering Propgate's own request, served ` +
        `${fmt((100 * (at16Stack?.rps ?? Number.NaN)) / (at16Floor?.rps ?? Number.NaN), 1)} % of the floor's req/s at c = 16 ` +
        `(${fmt(at16Stack?.rps, 0)} req/s` +
        (childMode
          ? `, ${perOpen(at16Stack?.cpuMsPer1000)} ms of its own CPU per request): the framework costs ` +
            `${perOpen((at16Stack?.cpuMsPer1000 ?? Number.NaN) - (at16Floor?.cpuMsPer1000 ?? Number.NaN))} ms, ` +
            `and Propgate's own work over it ${perOpen((at16Propgate?.cpuMsPer1000 ?? Number.NaN) - (at16Stack?.cpuMsPer1000 ?? Number.NaN))} ms of api CPU ` +
            `and ${perOpen((at16Propgate?.dbCpuMsPer1000 ?? Number.NaN) - (at16Stack?.dbCpuMsPer1000 ?? Number.NaN))} ms of PostgreSQL CPU per door open` +
            ` (Propgate served ${fmt((100 * (at16Propgate?.rps ?? Number.NaN)) / (at16Stack?.rps ?? Number.NaN), 1)} % of its req/s).`
          : ")."),
      childMode
        ? `Per door open at c = 16: ${perOpen(at16Propgate?.cpuMsPer1000)} ms of api CPU and ` +
          `${perOpen(at16Propgate?.dbCpuMsPer1000)} ms of PostgreSQL backend CPU, against ` +
          `${perOpen(at16Bare?.cpuMsPer1000)} ms of proxy CPU per forwarded request; ` +
          `${fmt(at16Propgate?.advisoryWaiting, 1)} of ${fmt(at16Propgate?.active, 1)} active backends ` +
          "were waiting on an advisory lock, on average."
        : "CPU and lock waits need the api in a child process on PostgreSQL (DATABASE_URL).",
      ...(childMode && roundTrip
        ? [
            `The api's main thread spent ${perOpen(cell(closed, "propgate", (c) => c.connections === 1)?.mainThreadMsPer1000)} ms ` +
              `of CPU per door open at c = 1 and ${perOpen(at16Propgate?.mainThreadMsPer1000)} ms at c = 16: ` +
              "one request at a time, the event loop sleeps and wakes at each awaited hop (the request, the " +
              "audit statement, the partner's answer), and one such round trip costs a Bun process " +
              `${fmt(roundTrip.cpuUs, 0)} µs of CPU on this machine (a sequential \`select 1\`: ` +
              `${fmt(roundTrip.wallUs, 0)} µs wall). Under load the hops of concurrent requests share wake-ups.`,
          ]
        : []),
      topFrame
        ? `The api's top self frame under load: \`${topFrame.functionName}\` ` +
          (topFrame.via
            ? `(${topFrame.location === "(native)" ? "native" : `\`${topFrame.location}\``}, called from \`${topFrame.via}\`)`
            : topFrame.location === "(native)"
              ? "(native, with no JavaScript caller: the event loop, I/O or GC)"
              : `(\`${topFrame.location}\`)`) +
          `, ${fmt(topFrame.percent, 1)} % of the samples.`
        : profileNote,
      (() => {
        const span = (name: string) => breakdown.spans[name]?.p50;
        return (
          `One door open at a time, 10 ms apart (${breakdown.requests} opens): Propgate's ` +
          `\`Server-Timing\` p50 splits ${fmt(span("total"), 2)} ms into the audit commit ` +
          `${fmt(span("audit"), 2)}, the partner ${fmt(span("partner"), 2)} and its own work ` +
          `${fmt(span("gateway"), 2)}; the client saw ${fmt(breakdown.propgate.p50, 2)} ms against ` +
          `${fmt(breakdown.direct.p50, 2)} direct. At that pace one hop to the idle api and back ` +
          `(\`GET /healthz\`) costs ${fmt(breakdown.hop.p50, 2)} ms: a door open makes three such ` +
          "hops where a direct call makes one (the client's, the database's, the partner's), and " +
          "the attempt row must be committed before the partner's request leaves (invariant 1)."
        );
      })(),
    ];

    const notes = [
      "Load generator: autocannon (programmatic API, one process, no workers), a fresh `Idempotency-Key` / `idempotencyKey` per request through `setupRequest`. Latency percentiles come from autocannon's per-response times (fractional ms); its own histogram rounds to whole ms.",
      `Closed loop: ${CONFIG.reps} repetition(s) of ${CONFIG.closedSeconds} s per (target, c), interleaved (direct, bare, floor, stack floor, propgate at each c) so drift hits all five; after a ${CONFIG.warmSeconds} s warm-up per target at c = 16 that is not counted.`,
      `Paced: autocannon's \`overallRate\`, split over ${PACED_PER_CONNECTION}-per-second connections (${CONFIG.rates.map((r) => `${Math.max(1, Math.round(r / PACED_PER_CONNECTION))} at ${r} req/s`).join(", ")}). autocannon paces per connection per second: a connection sends its share back to back, then waits for the next second. That is a bursty approximation of an open loop, not Poisson arrivals; when the achieved rate is below the offered one the target is saturated and the latencies are those of a closed loop. ${CONFIG.pacedSeconds} s per run.`,
      `Placement: ${childMode ? "the measured api and the bare proxy each run as a child process (bun, on loopback); the load generator, both partner simulators, the dev identity issuer and the stack's own api instance (used for consent grants and as instance A of the revocation measure) run in the bench process" : "everything (load generator, simulators, api, proxy, PGlite) runs in the bench process"}. The bare proxy forwards to the simulator in the bench process, like the api does. The audited floor (\`audited-floor.ts\`, ${childMode ? "a child process too" : "in the bench process"}) verifies the resident's JWT once per token (jose, the same JWKS, a map keyed by the token's SHA-256 until \`exp\`), commits one \`partner.request\` row through \`createAuditWriter\` (the same group commit and consent re-check) on the bench database, then forwards with a partner token it holds: the least a gateway keeping invariant 1 does per request. The audited floor on the stack (\`startStackFloor\`, the same file${childMode ? ", its own child" : ""}) does exactly that behind the framework DESIGN.md fixes for Propgate: a Hono app handing \`/trpc/*\` to tRPC's fetch adapter, one mutation taking Propgate's door-open request (zod input, the resident found in a tRPC middleware) and answering Propgate's output (zod): what it costs over the floor is the framework's, what Propgate costs over it is Propgate's own.`,
      `The api runs with LOG_LEVEL=info (one log line per request, as in production) ${childMode ? "written to a file" : "to a discarding stream"}, rate limits from \`HIGH_RATE_LIMITS\`, in-memory rate-limit counters (no REDIS_URL; production's counts in Redis are measured apart, under "Other measures"), ${RESIDENTS} residents with consent granted, round robin, all opening \`door-a1\`.`,
      `The ${os.availableParallelism()} cores are shared by the load generator, the simulator, the api, the proxy and the database, and by whatever else runs on the machine (load average ${loadAtStart.map((l) => fmt(l, 2)).join(", ")} at the start): absolute figures are low and noisy; the ratios to the same-run baselines are the figures to read.`,
      `Revoke → reject is the former \`bench/revocation.ts\`: both instances in the bench process (B started by the harness's \`startInstance\`, debug logging), ${CONFIG.revokeRounds} rounds.`,
    ];

    const summary: Summary = {
      startedAt: startedAt.toISOString(),
      quick: QUICK,
      elapsedSeconds: (performance.now() - began) / 1000,
      machine: {
        nproc: os.availableParallelism(),
        memoryGiB: os.totalmem() / 1024 ** 3,
        cpuModel: cpuModel(),
        bun: Bun.version,
        kernel: `${os.type()} ${os.release()}`,
        loadAverageAtStart: loadAtStart,
      },
      database: stack.testDatabase.label,
      revision: revisionAtStart,
      apiPlacement: childMode
        ? "child process, BUN_JSC_forceRAMSize 512 MiB, smallHeapGrowthFactor 1.6"
        : "in the bench process",
      config: { ...CONFIG, residents: RESIDENTS, pacedPerConnection: PACED_PER_CONNECTION },
      closed,
      paced,
      measures,
      goals,
      profile,
      profileNote,
      postgresProfile,
      findings,
      notes,
    };

    console.log(stdoutReport(summary));
    const resultsDir = resolve(import.meta.dir, "results");
    mkdirSync(resultsDir, { recursive: true });
    const json = `${JSON.stringify({ ...summary, runs, tokenRun, tokenRecords, revocation, breakdown, journal, estate }, null, 2)}\n`;
    const stamp = `${summary.startedAt.replaceAll(":", "-")}${QUICK ? "-quick" : ""}`;
    const written = [join(resultsDir, `${stamp}.json`)];
    if (!QUICK) written.push(join(resultsDir, "latest.json"));
    for (const file of written) writeFileSync(file, json);
    if (!QUICK) {
      const markdown = resolve(import.meta.dir, "../../../BENCHMARKS.md");
      writeFileSync(markdown, benchmarksMarkdown(summary));
      written.push(markdown);
    }
    // The repo's `biome check .` sees these files too: leave them formatted its way.
    const biome = Bun.spawnSync([BIOME, "format", "--write", ...written], { stdout: "ignore" });
    if (biome.exitCode !== 0) console.error(`biome format failed: ${biome.stderr.toString()}`);
    // The raw profile, for Chrome DevTools (git-ignored like the timestamped JSON).
    if (profileCopy) copyFileSync(profileCopy, join(resultsDir, `${stamp}-api.cpuprofile`));
    progress(`wrote ${written.join(", ")}`);
  }
  finished = true;
} finally {
  for (const child of children) await child.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
  await pgSql?.close();
  await stack.close();
  if (finished) rmSync(workDir, { recursive: true, force: true });
  else console.error(`bench failed; child logs kept in ${workDir}`);
}
