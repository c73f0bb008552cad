/**
 * Where PostgreSQL's backends spend their CPU during one run: `perf record` of their processes
 * (a server on this machine only), read back by the functions of PostgreSQL's executor that name
 * a part of a door open's statement. Without `perf`, or when it cannot record, a reason instead.
 */

export interface PostgresProfilePart {
  /** PostgreSQL's function, whose samples include those of everything it called. */
  fn: string;
  what: string;
  percent: number;
}

export interface PostgresProfile {
  samples: number;
  /** Share of the samples in the kernel (system calls: sockets, the WAL's write and flush). */
  kernelPercent: number;
  parts: PostgresProfilePart[];
}

/** The parts reported, in the order of a statement's life; shares overlap where one calls another. */
const PARTS: ReadonlyArray<readonly [fn: string, what: string]> = [
  ["pq_getbyte", "reading the client's messages from the socket"],
  ["pg_plan_query", "planning the statement"],
  ["standard_ExecutorStart", "setting up the executor (per statement)"],
  ["pg_parse_json", "parsing the batch's rows from JSON"],
  ["heap_lock_tuple", "locking the consent rows FOR SHARE"],
  [
    "ExecConstraints",
    "CHECK and NOT NULL constraints (the CHECKs' expressions read per statement)",
  ],
  ["heap_insert", "the rows themselves"],
  ["ExecInsertIndexTuples", "the rows' index entries"],
  ["CommitTransactionCommand", "commit: the WAL written and flushed"],
];

export interface PostgresRecording {
  /** Resolves with the summary, or a sentence saying why there is none. */
  done: Promise<PostgresProfile | string>;
}

/** Records `pids` for `seconds`; `file` is where perf writes (left for a second look). */
export function recordPostgres(pids: number[], seconds: number, file: string): PostgresRecording {
  const perf = Bun.which("perf");
  if (!perf) return { done: Promise.resolve("`perf` is not installed: no profile of PostgreSQL.") };
  if (pids.length === 0) return { done: Promise.resolve("no PostgreSQL backend to profile.") };
  const recording = Bun.spawn(
    [perf, "record", "-g", "-o", file, "-p", pids.join(","), "--", "sleep", String(seconds)],
    { stdout: "ignore", stderr: "pipe" },
  );
  const done = (async (): Promise<PostgresProfile | string> => {
    const code = await recording.exited;
    if (code !== 0) {
      const why = (await new Response(recording.stderr).text()).trim().split("\n").at(-1);
      return `\`perf record\` of PostgreSQL failed (${code}): ${why ?? ""}`;
    }
    return summarise(perf, file);
  })();
  return { done };
}

function report(perf: string, file: string, args: string[]): string {
  const run = Bun.spawnSync([perf, "report", "-i", file, "-q", "--stdio", "-g", "none", ...args], {
    stdout: "pipe",
    stderr: "ignore",
  });
  return run.stdout.toString();
}

function summarise(perf: string, file: string): PostgresProfile | string {
  // `--children`: each symbol's share with its callees'; columns: children %, self %, [.] name.
  const bySymbol = new Map<string, number>();
  for (const line of report(perf, file, ["--children", "--sort", "sym"]).split("\n")) {
    const match = /^\s*([\d.]+)%\s+[\d.]+%\s+\[[.k]\]\s+(\S+)/.exec(line);
    if (match?.[1] && match[2] && !bySymbol.has(match[2])) bySymbol.set(match[2], Number(match[1]));
  }
  // `-n`: each shared object's share and its sample count.
  let samples = 0;
  let kernelSamples = 0;
  for (const line of report(perf, file, ["--no-children", "-n", "--sort", "dso"]).split("\n")) {
    const match = /^\s*[\d.]+%\s+(\d+)\s+(\S+)/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    samples += Number(match[1]);
    if (match[2].startsWith("[kernel")) kernelSamples += Number(match[1]);
  }
  if (bySymbol.size === 0 || samples === 0) return "`perf report` found no PostgreSQL samples.";
  return {
    samples,
    kernelPercent: (100 * kernelSamples) / samples,
    parts: PARTS.map(([fn, what]) => ({ fn, what, percent: bySymbol.get(fn) ?? 0 })),
  };
}
