import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

/**
 * Comments and docs cite docs by heading (CONTRIBUTING.md, "Docs"); a heading renamed or a doc
 * moved leaves them pointing at nothing. Every tracked file's citations are checked here.
 */
const ROOT = join(import.meta.dir, "../../..");
/** This file, whose examples cite docs that do not exist on purpose. */
const SELF = "apps/dev/test/doc-citations.test.ts";

/** Docs that live outside the repository (the owner's shared folder), cited by name only. */
const OUTSIDE_THE_REPOSITORY = new Set(["DESIGN.md", "CONVENTIONS.md"]);

/** The repository as the checker sees it: every path, and the text of every text file. */
interface Tree {
  paths: ReadonlySet<string>;
  texts: ReadonlyMap<string, string>;
}

interface Doc {
  headings: Set<string>;
  anchors: Set<string>;
  invariants: Set<number>;
}

const PATH = String.raw`(?:[\w.-]+\/)*[\w.-]+\.md`;
/** Between a doc and what it cites: a comma or colon, spaces, a line break and a comment's marker. */
const GAP = String.raw`(?:[\s*#/]|--)*`;
const QUOTED = new RegExp(
  String.raw`(?<![\w./-])(?<doc>${PATH}|(?:the root )?README)\b\`?(?:\]\([^)]*\))?\)?(?:'s)?[,:]?\s${GAP}\(?"(?<heading>[^"]{1,120})"`,
  "g",
);
const ANCHORED = new RegExp(String.raw`(?<![\w./-])(?<doc>${PATH})#(?<anchor>[\w-]+)`, "g");
const INVARIANT = new RegExp(
  String.raw`docs\/architecture\.md,?${GAP}invariants?${GAP}(?<after>\d+)|invariants?${GAP}(?<before>\d+)\)?,?${GAP}\(?docs\/architecture\.md`,
  "gi",
);
const NAMED = new RegExp(String.raw`(?<![\w./-])(?<doc>${PATH})(?![\w/-])`, "g");
const LINK = /!?\[[^\]]*\]\((?<target>[^)\s]+)(?:\s+"[^"]*")?\)/g;
const COMMENT_BREAK = /\s*\n\s*(?:\/\/+|\*|#+|--)?\s*/g;

/** A heading as written, compared without its markup and case. */
function plain(heading: string): string {
  return heading.replace(COMMENT_BREAK, " ").replace(/[`*]/g, "").trim().toLowerCase();
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return plain(heading)
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/ /g, "-");
}

/** A markdown file's lines outside fenced code blocks, with their numbers. */
function proseLines(markdown: string): [number, string][] {
  let fenced = false;
  const lines: [number, string][] = [];
  markdown.split("\n").forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push([index + 1, line]);
  });
  return lines;
}

function docOf(markdown: string): Doc {
  const doc: Doc = { headings: new Set(), anchors: new Set(), invariants: new Set() };
  let section = "";
  for (const [, line] of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      section = plain(heading);
      doc.headings.add(section);
      let anchor = slug(heading);
      for (let n = 1; doc.anchors.has(anchor); n++) anchor = `${slug(heading)}-${n}`;
      doc.anchors.add(anchor);
    }
    for (const id of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) doc.anchors.add(id[1] ?? "");
    const item = /^(\d+)\.\s/.exec(line)?.[1];
    if (item && section === "invariants") doc.invariants.add(Number(item));
  }
  return doc;
}

function lineAt(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

/** Where `written`, cited from `file`, is: beside it, or in a folder above it. */
function resolveDoc(tree: Tree, file: string, written: string): string | undefined {
  if (written === "the root README") return tree.paths.has("README.md") ? "README.md" : undefined;
  const name = written === "README" ? "README.md" : written;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = normalize(join(dir, name));
    if (tree.paths.has(candidate)) return candidate;
    if (dir === "." || dir === "/") return undefined;
  }
}

function exists(tree: Tree, path: string): boolean {
  if (tree.paths.has(path)) return true;
  for (const candidate of tree.paths) if (candidate.startsWith(`${path}/`)) return true;
  return false;
}

/** Every citation in the tree that names a doc, heading, anchor or invariant that is not there. */
function brokenCitations(tree: Tree): string[] {
  const docs = new Map<string, Doc>();
  const docAt = (path: string): Doc => {
    const doc = docs.get(path) ?? docOf(tree.texts.get(path) ?? "");
    docs.set(path, doc);
    return doc;
  };
  const broken = new Set<string>();
  for (const [file, markdownOrCode] of tree.texts) {
    // A markdown link's target is checked as a link, not again as a named doc.
    const text = file.endsWith(".md")
      ? markdownOrCode.replace(/\]\([^)\s]*\)/g, (link) => `](${" ".repeat(link.length - 3)})`)
      : markdownOrCode;
    const at = (index: number) => `${file}:${lineAt(text, index)}`;
    const located = (index: number, written: string) => {
      const path = resolveDoc(tree, file, written);
      if (!path && !OUTSIDE_THE_REPOSITORY.has(written))
        broken.add(`${at(index)}: ${written} does not exist`);
      return path;
    };
    for (const match of text.matchAll(NAMED)) located(match.index, match.groups?.doc ?? "");
    for (const match of text.matchAll(QUOTED)) {
      const { doc = "", heading = "" } = match.groups ?? {};
      const path = located(match.index, doc);
      if (path && !docAt(path).headings.has(plain(heading)))
        broken.add(`${at(match.index)}: ${path} has no heading "${plain(heading)}"`);
    }
    for (const match of text.matchAll(ANCHORED)) {
      const { doc = "", anchor = "" } = match.groups ?? {};
      const path = located(match.index, doc);
      if (path && !docAt(path).anchors.has(anchor))
        broken.add(`${at(match.index)}: ${path} has no anchor #${anchor}`);
    }
    for (const match of text.matchAll(INVARIANT)) {
      const number = Number(match.groups?.after ?? match.groups?.before);
      if (!docAt("docs/architecture.md").invariants.has(number))
        broken.add(`${at(match.index)}: docs/architecture.md has no invariant ${number}`);
    }
    if (file.endsWith(".md"))
      for (const problem of brokenLinks(tree, file, markdownOrCode, docAt)) broken.add(problem);
  }
  return [...broken].sort();
}

/** A markdown file's relative links whose file, or whose heading's anchor, is not there. */
function brokenLinks(
  tree: Tree,
  file: string,
  text: string,
  docAt: (path: string) => Doc,
): string[] {
  const broken: string[] = [];
  for (const [number, line] of proseLines(text)) {
    for (const match of line.matchAll(LINK)) {
      const target = match.groups?.target ?? "";
      if (/^[a-z][a-z\d+.-]*:/i.test(target)) continue;
      const [where = "", anchor] = target.split("#");
      const path = where === "" ? file : normalize(join(dirname(file), decodeURI(where)));
      if (!exists(tree, path)) broken.push(`${file}:${number}: link to ${target}: no ${path}`);
      else if (anchor && path.endsWith(".md") && !docAt(path).anchors.has(anchor))
        broken.push(`${file}:${number}: link to ${target}: ${path} has no anchor #${anchor}`);
    }
  }
  return broken;
}

/** Tracked files and new ones not ignored, so a citation is checked before it is committed. */
function repository(): Tree {
  const listed = Bun.spawnSync(
    ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    { cwd: ROOT },
  );
  if (!listed.success) throw new Error(`git ls-files failed: ${listed.stderr.toString()}`);
  const paths = new Set(
    listed.stdout
      .toString()
      .split("\0")
      .filter((path) => path && existsSync(join(ROOT, path))),
  );
  const texts = new Map<string, string>();
  for (const path of paths) {
    if (path === SELF || path === "bun.lock" || path.startsWith("docs/openapi/")) continue;
    const bytes = readFileSync(join(ROOT, path));
    if (bytes.length < 2_000_000 && !bytes.includes(0)) texts.set(path, bytes.toString("utf8"));
  }
  return { paths, texts };
}

function treeOf(files: Record<string, string>): Tree {
  return { paths: new Set(Object.keys(files)), texts: new Map(Object.entries(files)) };
}

describe("doc citations", () => {
  test("every doc, heading, anchor and invariant the tree cites exists", () => {
    expect(brokenCitations(repository())).toEqual([]);
  });

  const guide =
    "# Guide\n\n## Rate limits (`per IP`)\n\n```\n## Not a heading\n```\n\n## Invariants\n\n1. **One**\n2. **Two**\n";
  const docs = {
    "docs/guide.md": guide,
    "README.md": "# Root\n\n## Two commands\n",
    "infra/k8s/README.md": "# Kubernetes\n\n## Secrets\n",
  };
  const brokenIn = (file: string, text: string) =>
    brokenCitations(treeOf({ ...docs, [file]: text }));

  test("a comment citing a real heading, anchor or doc passes, in each form", () => {
    const comments = [
      `// docs/guide.md, "Rate limits (per IP)": a quoted heading`,
      `/* see docs/guide.md#rate-limits-per-ip */`,
      `# infra/k8s/README.md, "Secrets"`,
      `# README: "Secrets"`,
      `// the root README, "Two commands"`,
      ` * (docs/guide.md, invariant\n * 2)`,
    ];
    expect(brokenIn("infra/k8s/base/job.yaml", comments.join("\n"))).toEqual([]);
  });

  test("a heading that does not exist fails, quoted or as an anchor, across a line break", () => {
    const text = `// docs/guide.md, "Watch"\n/**\n * docs/guide.md, "Not a\n * heading"\n */\n// docs/guide.md#watch`;
    expect(brokenIn("packages/api/src/watch.ts", text)).toEqual([
      `packages/api/src/watch.ts:1: docs/guide.md has no heading "watch"`,
      `packages/api/src/watch.ts:3: docs/guide.md has no heading "not a heading"`,
      "packages/api/src/watch.ts:6: docs/guide.md has no anchor #watch",
    ]);
  });

  test("a bare README is the nearest one above the file", () => {
    expect(brokenIn("packages/server/src/env.ts", `// README "Secrets"`)).toEqual([
      `packages/server/src/env.ts:1: README.md has no heading "secrets"`,
    ]);
  });

  test("a doc that does not exist fails, named or linked", () => {
    const gone = "docs/gone.md";
    expect(brokenIn("apps/api/src/main.ts", `/** settings: ${gone} */`)).toEqual([
      `apps/api/src/main.ts:1: ${gone} does not exist`,
    ]);
    expect(brokenIn("docs/other.md", `See [the guide](guide.md#two) and [gone](gone.md).`)).toEqual(
      [
        `docs/other.md:1: link to gone.md: no ${gone}`,
        `docs/other.md:1: link to guide.md#two: docs/guide.md has no anchor #two`,
      ],
    );
  });

  test("an invariant the architecture does not number fails", () => {
    const tree = treeOf({
      "docs/architecture.md": guide,
      "infra/postgres/roles.sql": "-- least privilege (invariant 5, docs/architecture.md).",
    });
    expect(brokenCitations(tree)).toEqual([
      "infra/postgres/roles.sql:1: docs/architecture.md has no invariant 5",
    ]);
  });
});

describe("the README", () => {
  // What Propgate is, the two commands, a picture, links (CONTRIBUTING.md, "Docs"): the reference
  // lives in docs/, so the README stays short enough to read at once.
  test("is at most 200 lines and links each doc in docs/", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme.split("\n").length).toBeLessThanOrEqual(200);
    for (const doc of [
      "api.md",
      "operations.md",
      "configuration.md",
      "data-retention.md",
      "partner-onboarding.md",
      "architecture.md",
    ])
      expect(readme).toContain(`](docs/${doc})`);
  });
});
