import type { LoadResult } from "./load.ts";
import type { Activity } from "./pg-activity.ts";
import type { PostgresProfile } from "./pg-profile.ts";
import type { ProfileSummary } from "./profile.ts";
import { fmt } from "./stats.ts";

export type TargetName = "direct" | "bare" | "floor" | "stack" | "propgate";

export const TARGET_LABELS: Record<TargetName, string> = {
  direct: "direct → partner-sim",
  bare: "bare Bun.serve proxy",
  floor: "audited floor (JWT + audit row + proxy)",
  stack: "audited floor on Hono + tRPC + zod",
  propgate: "propgate `intercom.openDoor`",
};

/** One load run of one target, with what was sampled around it. */
export interface RunRecord {
  target: TargetName;
  kind: "closed" | "paced";
  rep: number;
  load: LoadResult;
  /** CPU seconds of the target's own process during the run (child processes only). */
  cpuSeconds: number | null;
  /** Of those, its main thread's (the event loop, where JavaScript runs). */
  mainThreadCpuSeconds: number | null;
  /** CPU seconds of the PostgreSQL backends of the bench database during the run. */
  dbCpuSeconds: number | null;
  /** PostgreSQL backends of the bench database, sampled during the run (propgate only). */
  activity: Activity | null;
  /** Highest RSS sampled during the run, bytes. */
  rssMaxBytes: number | null;
  auditRows: number | null;
  wallSeconds: number;
  tokenRequests: number | null;
}

/** Medians over repetitions of one (target, connections or rate). */
export interface Cell {
  target: TargetName;
  kind: "closed" | "paced";
  connections: number;
  rate: number | null;
  reps: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  non2xx: number;
  errors: number;
  cpuMsPer1000: number | null;
  mainThreadMsPer1000: number | null;
  dbCpuMsPer1000: number | null;
  advisoryWaiting: number | null;
  active: number | null;
  rssMaxBytes: number | null;
  auditRowsPerSecond: number | null;
  auditRowsPerRequest: number | null;
}

export interface Goal {
  goal: string;
  measured: string;
  verdict: "met" | "MISSED" | "not measured" | "n/a";
  detail: string;
}

export interface Measure {
  measure: string;
  value: string;
  note: string;
}

export interface Summary {
  startedAt: string;
  quick: boolean;
  elapsedSeconds: number;
  machine: {
    nproc: number;
    memoryGiB: number;
    cpuModel: string;
    bun: string;
    kernel: string;
    loadAverageAtStart: number[];
  };
  database: string;
  /** Commit measured, e.g. `4bebbb9 + uncommitted changes in 3 tracked files`. */
  revision: string;
  apiPlacement:
    | "child process, BUN_JSC_forceRAMSize 512 MiB, smallHeapGrowthFactor 1.6"
    | "in the bench process";
  config: {
    reps: number;
    closedSeconds: number;
    pacedSeconds: number;
    warmSeconds: number;
    connections: number[];
    rates: number[];
    tokenSeconds: number;
    tokenLifetimeSeconds: number;
    revokeRounds: number;
    baselineOpens: number;
    profileSeconds: number;
    residents: number;
    pacedPerConnection: number;
  };
  closed: Cell[];
  paced: Cell[];
  measures: Measure[];
  goals: Goal[];
  profile:
    | (ProfileSummary & {
        seconds: number;
        /** Main-thread CPU per door open of the profiled run, ms. */
        mainMsPerRequest: number | null;
        /** The audited floor on the stack, profiled alike, when it runs as a child. */
        floor: (ProfileSummary & { mainMsPerRequest: number | null }) | null;
      })
    | null;
  profileNote: string;
  /** `perf` of PostgreSQL's backends during the profiled run, or why there is none. */
  postgresProfile: PostgresProfile | string;
  /** A few sentences derived from the figures. */
  findings: string[];
  notes: string[];
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function errorsOf(cell: Cell): string {
  return cell.non2xx + cell.errors === 0 ? "0" : `${cell.non2xx} non-2xx, ${cell.errors} errors`;
}

function closedTable(summary: Summary): string {
  const rpsOf = (target: TargetName, c: number) =>
    summary.closed.find((cell) => cell.target === target && cell.connections === c)?.rps;
  return table(
    [
      "target",
      "c",
      "req/s",
      "p50 ms",
      "p90 ms",
      "p99 ms",
      "req/s vs bare proxy",
      "req/s vs audited floor",
      "failed",
    ],
    summary.closed.map((cell) => {
      const bare = rpsOf("bare", cell.connections);
      const floor = rpsOf("floor", cell.connections);
      return [
        TARGET_LABELS[cell.target],
        String(cell.connections),
        fmt(cell.rps, 0),
        fmt(cell.p50, 2),
        fmt(cell.p90, 2),
        fmt(cell.p99, 2),
        bare ? `${fmt((100 * cell.rps) / bare, 1)} %` : "–",
        floor ? `${fmt((100 * cell.rps) / floor, 1)} %` : "–",
        errorsOf(cell),
      ];
    }),
  );
}

function pacedTable(summary: Summary): string {
  const at = (target: TargetName, rate: number | null) =>
    summary.paced.find((cell) => cell.target === target && cell.rate === rate);
  return table(
    [
      "target",
      "offered req/s",
      "connections",
      "achieved req/s",
      "p50 ms",
      "p99 ms",
      "added p50 vs direct",
      "added p99 vs direct",
      "added p50 / p99 vs audited floor",
      "failed",
    ],
    summary.paced.map((cell) => {
      const direct = at("direct", cell.rate);
      const floor = at("floor", cell.rate);
      const added = (mine: number, theirs: number | undefined) =>
        cell.target === "direct" || theirs === undefined ? "–" : `${fmt(mine - theirs, 2)} ms`;
      return [
        TARGET_LABELS[cell.target],
        String(cell.rate),
        String(cell.connections),
        cell.rate !== null && cell.rps < 0.9 * cell.rate
          ? `${fmt(cell.rps, 0)} (saturated)`
          : fmt(cell.rps, 0),
        fmt(cell.p50, 2),
        fmt(cell.p99, 2),
        added(cell.p50, direct?.p50),
        added(cell.p99, direct?.p99),
        (cell.target !== "propgate" && cell.target !== "stack") || !floor
          ? "–"
          : `${fmt(cell.p50 - floor.p50, 2)} / ${fmt(cell.p99 - floor.p99, 2)} ms`,
        errorsOf(cell),
      ];
    }),
  );
}

function measuresTable(summary: Summary): string {
  return table(
    ["measure", "value", "how"],
    summary.measures.map((m) => [m.measure, m.value, m.note]),
  );
}

function goalsTable(summary: Summary): string {
  return table(
    ["goal", "measured", "verdict", "by how much"],
    summary.goals.map((g) => [g.goal, g.measured, g.verdict, g.detail]),
  );
}

function profileTable(summary: Summary): string {
  const profile = summary.profile;
  if (!profile) return summary.profileNote;
  const concerns = concernTable(summary);
  return [
    `${summary.profileNote} ${profile.samples} samples over ${fmt(profile.wallMs / 1000, 1)} s ` +
      "of the api's main thread (Bun samples only while it runs, so waits on the database or " +
      "the partner are not in it). Self samples, top frames; `via` is the nearest caller in " +
      "application or package code of a native or runtime frame:",
    "",
    table(
      ["#", "samples", "%", "function", "where", "via"],
      profile.frames.map((frame, i) => [
        String(i + 1),
        String(frame.samples),
        fmt(frame.percent, 1),
        `\`${frame.functionName.replaceAll("|", "\\|")}\``,
        `\`${frame.location}\``,
        frame.via
          ? `\`${frame.via.replaceAll("|", "\\|")}\``
          : frame.location === "(native)"
            ? "none: the event loop, I/O or GC"
            : "",
      ]),
    ),
    "",
    "The same samples by the layer that was running: the nearest file of this repository on " +
      "the stack (a package's or the runtime's frames count for the file that called them), or " +
      "the outermost package when no file of ours is on the stack (the driver's socket work, " +
      "tRPC's fetch adapter):",
    "",
    table(
      ["layer", "samples", "%"],
      profile.layers.map((layer) => [
        `\`${layer.layer}\``,
        String(layer.samples),
        fmt(layer.percent, 1),
      ]),
    ),
    ...(concerns ? ["", concerns] : []),
  ].join("\n");
}

/**
 * The profile by concern, in µs of main-thread CPU per door open (each concern's share of the
 * samples times the run's main-thread CPU per request), beside the audited floor on the stack.
 */
function concernTable(summary: Summary): string | null {
  const profile = summary.profile;
  const ms = profile?.mainMsPerRequest ?? null;
  if (!profile || ms === null) return null;
  const floor = profile.floor;
  const floorMs = floor?.mainMsPerRequest ?? null;
  // A share in percent of a run's main-thread ms per request, as µs.
  const us = (percent: number, of: number) => percent * of * 10;
  const rows = profile.concerns.map((entry, i) => {
    const theirs = floor?.concerns[i]?.percent ?? 0;
    return [
      entry.concern,
      fmt(us(entry.percent, ms), 0),
      floorMs === null ? "" : fmt(us(theirs, floorMs), 0),
      floorMs === null ? "" : fmt(us(entry.percent, ms) - us(theirs, floorMs), 0),
    ];
  });
  rows.push([
    "**all**",
    fmt(ms * 1000, 0),
    floorMs === null ? "" : fmt(floorMs * 1000, 0),
    floorMs === null ? "" : fmt((ms - floorMs) * 1000, 0),
  ]);
  return [
    "The same samples by what the work was for, in µs of the main thread's CPU per door open " +
      "(a concern's share of the samples times the profiled run's main-thread CPU per request), " +
      (floor
        ? "beside the audited floor on the stack (Hono, tRPC and zod answering Propgate's own " +
          "request, one audit row through the same writer), profiled the same way: what Propgate " +
          "spends over it is its own. "
        : "") +
      "A sample counts for the nearest JavaScript frame on its stack: a package with a concern " +
      "of its own (prom-client, pino, rate-limiter-flexible, jose, cockatiel, postgres.js), " +
      "Hono's or tRPC's frames (the framework, even under our route), or a file of this " +
      "repository by its path; Bun's native `fetch` is the partner request; zod counts for its " +
      "caller. Threads other than the main one (JavaScriptCore's collector and compiler, Bun's " +
      "HTTP client) are not in it.",
    "",
    table(["concern", "Propgate µs", "stack floor µs", "Propgate over it µs"], rows),
  ].join("\n");
}

function postgresProfileTable(summary: Summary): string {
  const profile = summary.postgresProfile;
  if (typeof profile === "string") return profile;
  return [
    `\`perf record -g\` of the bench database's backends over the same run: ${profile.samples} ` +
      `samples, ${fmt(profile.kernelPercent, 1)} % of them in the kernel (sockets, the WAL's ` +
      "write and flush). Each function's share includes what it called, so shares overlap " +
      "where one part calls another:",
    "",
    table(
      ["PostgreSQL function", "what it is", "% of samples"],
      profile.parts.map((part) => [`\`${part.fn}\``, part.what, fmt(part.percent, 1)]),
    ),
  ].join("\n");
}

/** The tables printed on stdout. */
export function stdoutReport(summary: Summary): string {
  return [
    `# Propgate bench — ${summary.quick ? "QUICK (figures are rough)" : "full"} run, ${summary.startedAt}`,
    "",
    `${summary.database}; code ${summary.revision}; api ${summary.apiPlacement}; ` +
      `${summary.machine.nproc} cores, ` +
      `${summary.machine.cpuModel}, Bun ${summary.machine.bun}; took ${fmt(summary.elapsedSeconds, 0)} s.`,
    "",
    "## Closed loop (medians of repetitions)",
    "",
    closedTable(summary),
    "",
    "## Paced (autocannon overallRate)",
    "",
    pacedTable(summary),
    "",
    "## Other measures",
    "",
    measuresTable(summary),
    "",
    "## Goals",
    "",
    goalsTable(summary),
    "",
    ...summary.findings.map((line) => `- ${line}`),
    "",
    "## CPU profile of the api",
    "",
    profileTable(summary),
    "",
    "## CPU profile of PostgreSQL",
    "",
    postgresProfileTable(summary),
    "",
    "## Notes",
    "",
    ...summary.notes.map((note) => `- ${note}`),
    "",
  ].join("\n");
}

function settings(config: Summary["config"]): string {
  return [
    `${config.reps} repetitions`,
    `closed loop ${config.closedSeconds} s at c = ${config.connections.join(", ")}`,
    `paced ${config.pacedSeconds} s at ${config.rates.join(", ")} req/s`,
    `warm-up ${config.warmSeconds} s per target`,
    `token phase ${config.tokenSeconds} s at a ${config.tokenLifetimeSeconds} s lifetime`,
    `${config.revokeRounds} revocation rounds`,
    `profile ${config.profileSeconds} s`,
    `${config.residents} residents`,
  ].join("; ");
}

/** BENCHMARKS.md at the repository root, from a full run. */
export function benchmarksMarkdown(summary: Summary): string {
  const m = summary.machine;
  return [
    "# Benchmarks",
    "",
    "Written by `npx --yes bun@1.4.5 run bench` (a full run; `--quick` runs never touch this",
    "file). The figures below are those of the latest full run; its JSON is",
    "`apps/dev/bench/results/latest.json`. Every baseline is measured in the same run, on the same",
    "machine, interleaved with the Propgate runs: compare ratios and differences, not absolute",
    "numbers from another machine.",
    "",
    "## How to reproduce",
    "",
    "```sh",
    "npx --yes bun@1.4.5 install",
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 npx --yes bun@1.4.5 run bench --estate",
    "npx --yes bun@1.4.5 run bench --quick   # about a minute, rough figures, BENCHMARKS.md untouched",
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx --yes bun@1.4.5 run bench --breakdown  # one open's time split alone",
    "```",
    "",
    "With `DATABASE_URL` the bench creates a throwaway database on that server (dropped at the",
    "end) and runs the measured api instance as a child process (`apps/dev/src/dev-api.ts`), so",
    "its RSS and CPU time are its own; without it everything runs in the bench process on",
    "embedded PGlite and the api's RSS and CPU cannot be separated from the load generator's.",
    "With `REDIS_URL` it also measures the api counting its rate limits and anomaly rules in Redis,",
    "as production's instances behind one load balancer do (the other runs count in memory);",
    "`--estate` adds the large estate (about 16 minutes more).",
    "The source is `apps/dev/bench/` (`main.ts` is the entry).",
    "",
    "## Machine and run",
    "",
    table(
      ["", "value"],
      [
        ["run", `${summary.startedAt}, ${fmt(summary.elapsedSeconds, 0)} s`],
        ["code", summary.revision],
        ["cores (`nproc`)", String(m.nproc)],
        ["memory", `${fmt(m.memoryGiB, 1)} GiB`],
        ["CPU", m.cpuModel],
        ["Bun", m.bun],
        ["kernel", m.kernel],
        ["load average at start", m.loadAverageAtStart.map((l) => fmt(l, 2)).join(", ")],
        ["database", summary.database],
        ["measured api", summary.apiPlacement],
        ["settings", settings(summary.config)],
      ],
    ),
    "",
    "## Goals",
    "",
    goalsTable(summary),
    "",
    "## What the figures say",
    "",
    ...summary.findings.map((line) => `- ${line}`),
    "",
    "## Closed loop",
    "",
    "c connections, each sending its next request when the previous answer arrives; medians of",
    "the repetitions (req/s, and each repetition's latency percentiles).",
    "",
    closedTable(summary),
    "",
    "## Paced",
    "",
    pacedTable(summary),
    "",
    "## Other measures",
    "",
    measuresTable(summary),
    "",
    "## Where the api spends its time",
    "",
    profileTable(summary),
    "",
    "## Where PostgreSQL spends its time",
    "",
    postgresProfileTable(summary),
    "",
    "## Method and caveats",
    "",
    ...summary.notes.map((note) => `- ${note}`),
    "",
  ].join("\n");
}
