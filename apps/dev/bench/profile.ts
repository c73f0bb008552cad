import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileFrame {
  functionName: string;
  /** Repository-relative file (or `node_modules/<package>/…`) and 1-based line. */
  location: string;
  /**
   * The nearest caller in application or package code, for native and runtime frames (each
   * caller its own row); null for one with no JavaScript caller (the event loop, I/O, GC).
   */
  via: string | null;
  samples: number;
  /** Share of all samples. */
  percent: number;
}

/** A share of the samples by the layer of code that was running, however deep the call. */
export interface ProfileLayer {
  /**
   * The nearest repository file on the stack (what a library or native frame below it ran for),
   * or, with no repository frame on the stack, the outermost package or runtime module.
   */
  layer: string;
  samples: number;
  percent: number;
}

/** A share of the samples by what the work was for (see `CONCERNS`). */
export interface ProfileConcern {
  concern: Concern;
  samples: number;
  percent: number;
}

export interface ProfileSummary {
  wallMs: number;
  samples: number;
  frames: ProfileFrame[];
  layers: ProfileLayer[];
  /** Every concern, in `CONCERNS` order, none left out (zero samples included). */
  concerns: ProfileConcern[];
}

/**
 * What a sample's work was for, so that Propgate's door open and the audited floor on the stack
 * (`audited-floor.ts`) can be set side by side: the same concern, the same rule, either process.
 */
export const CONCERNS = [
  "HTTP framework: Hono, tRPC, zod",
  "request middleware: ids, headers, Server-Timing",
  "resident's token",
  "rate limits",
  "door-open logic: device, consent, subject, in-flight, watch",
  "audit rows: chain, hashes, group commit",
  "database driver (postgres.js)",
  "partner request: Bun's fetch",
  "partner client: contract, retries, answer check",
  "metrics (prom-client)",
  "request log (pino)",
  "tracing hooks",
  "the floor's own code",
  "event loop, I/O, GC",
  "other",
] as const;
export type Concern = (typeof CONCERNS)[number];

/** A package's frames count for a concern of their own, whoever called them. */
const PACKAGE_CONCERNS: Record<string, Concern> = {
  "prom-client": "metrics (prom-client)",
  pino: "request log (pino)",
  "rate-limiter-flexible": "rate limits",
  jose: "resident's token",
  cockatiel: "partner client: contract, retries, answer check",
  postgres: "database driver (postgres.js)",
  "drizzle-orm": "database driver (postgres.js)",
};

/** A repository file's concern, by its path; files not named here are the door open's logic. */
const FILE_CONCERNS: Array<[RegExp, Concern]> = [
  [/^packages\/observability\/src\/(logger|scrub)\.ts$/, "request log (pino)"],
  [/^packages\/observability\/src\/metrics\.ts$/, "metrics (prom-client)"],
  [/^packages\/observability\/src\/tracing\.ts$/, "tracing hooks"],
  [/^packages\/api\/src\/rate-limits\//, "rate limits"],
  [/^packages\/api\/src\/auth\.ts$/, "resident's token"],
  [
    /^packages\/(consent-audit\/src\/(audit[^/]*|partner-gate)|api\/src\/partner-call\/audit-hooks)\.ts$/,
    "audit rows: chain, hashes, group commit",
  ],
  [/^packages\/partner-client\//, "partner client: contract, retries, answer check"],
  [
    /^packages\/(server\/src\/app|api\/src\/(trpc|timing|response-headers))\.ts$/,
    "request middleware: ids, headers, Server-Timing",
  ],
  [/^apps\/dev\/bench\/audited-floor\.ts$/, "the floor's own code"],
  [/^packages\//, "door-open logic: device, consent, subject, in-flight, watch"],
];
const FRAMEWORK_PACKAGES = new Set(["hono", "@trpc/server"]);

const REPO = resolve(import.meta.dir, "../../..");

/** A frame's file: a `file://` URL as its path, anything else (`node:net`) as it is. */
const pathOf = (url: string) =>
  url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;

function location(url: string, lineNumber: number): string | null {
  if (!url) return null;
  const path = pathOf(url);
  const shown = path.includes("/node_modules/")
    ? `node_modules/${path.slice(path.lastIndexOf("/node_modules/") + 14)}`
    : path.startsWith(REPO)
      ? relative(REPO, path)
      : path;
  return `${shown}:${lineNumber + 1}`;
}

/** `node_modules/<package>` (scoped: `<scope>/<name>`) of a path inside one, else null. */
function packageOf(path: string): string | null {
  const at = path.lastIndexOf("/node_modules/");
  if (at < 0) return null;
  const parts = path.slice(at + 14).split("/");
  return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? null);
}

/**
 * The top frames of a `.cpuprofile` by self samples. Bun's sampler records only while the
 * thread runs JavaScript or native code called from it; an idle wait shows up as one long time
 * delta before the next sample, so time deltas would charge the wait to whatever ran next:
 * samples are counted instead.
 */
export function topFrames(
  file: string,
  options: { limit?: number; window?: { fromEndMs: number; toEndMs: number } } = {},
): ProfileSummary {
  const limit = options.limit ?? 15;
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  // The window counts back from the profile's end (the process's exit), in µs like the profile.
  const from = options.window ? profile.endTime - options.window.fromEndMs * 1000 : -Infinity;
  const to = options.window ? profile.endTime - options.window.toEndMs * 1000 : Infinity;
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);

  const ownCode = (id: number) => {
    const url = byId.get(id)?.callFrame.url ?? "";
    return url.startsWith("file://") || url.startsWith("/");
  };
  const viaOf = (id: number): string | null => {
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      if (!ownCode(up)) continue;
      const frame = byId.get(up)?.callFrame;
      return frame
        ? `${frame.functionName || "(anonymous)"} ${location(frame.url, frame.lineNumber)}`
        : null;
    }
    return null;
  };

  /** See `ProfileLayer.layer`. */
  const layerOf = (id: number): string => {
    let outermost: string | null = null;
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const url = byId.get(up)?.callFrame.url ?? "";
      if (!url) continue;
      const path = pathOf(url);
      const inPackage = packageOf(path);
      if (inPackage) outermost = `${inPackage} (no repository frame above it)`;
      else if (path.startsWith(REPO)) return relative(REPO, path);
      else outermost = `${path} (runtime; no repository frame above it)`;
    }
    return outermost ?? "native, no JavaScript frame (event loop, I/O, GC)";
  };
  const layers = new Map<string, number>();

  /**
   * The concern of a sample (see `CONCERNS`): Bun's native `fetch` is the partner request; else
   * the nearest JavaScript frame decides — a package with a concern of its own, the framework's
   * packages (tRPC's adapter under our Hono route is still the framework), or a repository file
   * by its path. zod's and the runtime's own modules count for whoever called them.
   */
  const concernOf = (id: number): Concern => {
    const self = byId.get(id)?.callFrame;
    if (self && !self.url && self.functionName === "fetch") return "partner request: Bun's fetch";
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const url = byId.get(up)?.callFrame.url ?? "";
      if (!url) continue;
      const path = pathOf(url);
      const inPackage = packageOf(path);
      if (inPackage === "zod") continue;
      if (inPackage) {
        return (
          PACKAGE_CONCERNS[inPackage] ??
          (FRAMEWORK_PACKAGES.has(inPackage) ? "HTTP framework: Hono, tRPC, zod" : "other")
        );
      }
      if (!path.startsWith(REPO)) continue; // the runtime's own modules (node:net and the like)
      const file = relative(REPO, path);
      return FILE_CONCERNS.find(([pattern]) => pattern.test(file))?.[1] ?? "other";
    }
    return "event loop, I/O, GC";
  };
  const concerns = new Map<Concern, number>();

  // A native or runtime frame is one row per caller: merged, every anonymous native frame (the
  // event loop's among them) read as called from whichever caller was most frequent.
  const frames = new Map<string, ProfileFrame>();
  let at = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) return;
    total += 1;
    const layer = layerOf(id);
    layers.set(layer, (layers.get(layer) ?? 0) + 1);
    const concern = concernOf(id);
    concerns.set(concern, (concerns.get(concern) ?? 0) + 1);
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const functionName = frame.functionName || "(anonymous)";
    const where = location(frame.url, frame.lineNumber) ?? "(native)";
    const via = ownCode(id) ? null : viaOf(id);
    const key = `${functionName}\0${where}\0${via ?? ""}`;
    const entry = frames.get(key) ?? { functionName, location: where, via, samples: 0, percent: 0 };
    entry.samples += 1;
    frames.set(key, entry);
  });
  const top = [...frames.values()]
    .sort((a, b) => b.samples - a.samples)
    .slice(0, limit)
    .map((frame) => ({ ...frame, percent: total > 0 ? (100 * frame.samples) / total : 0 }));
  return {
    wallMs: (Math.min(to, profile.endTime) - Math.max(from, profile.startTime)) / 1000,
    samples: total,
    frames: top,
    layers: [...layers.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([layer, samples]) => ({
        layer,
        samples,
        percent: total > 0 ? (100 * samples) / total : 0,
      })),
    concerns: CONCERNS.map((concern) => {
      const samples = concerns.get(concern) ?? 0;
      return { concern, samples, percent: total > 0 ? (100 * samples) / total : 0 };
    }),
  };
}
