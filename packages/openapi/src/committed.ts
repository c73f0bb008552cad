import { join } from "node:path";
import type { OpenApiDocument } from "./document.ts";
import { openApiJson } from "./json-text.ts";

/** Where `bun run openapi` writes the documents, and where the drift check reads them. */
const DOCS_FOLDER = join(import.meta.dir, "../../../docs/openapi");

/** Writes `document` as docs/openapi/`file` (`bun run openapi`). */
export async function writeDocument(
  file: string,
  document: OpenApiDocument,
  folder = DOCS_FOLDER,
): Promise<void> {
  await Bun.write(join(folder, file), openApiJson(document));
}

/**
 * The drift check: null when docs/openapi/`file` is what `document` writes now, else what
 * differs first and how to fix it.
 */
export async function committedDrift(
  file: string,
  document: OpenApiDocument,
  folder = DOCS_FOLDER,
): Promise<string | null> {
  const committedFile = Bun.file(join(folder, file));
  if (!(await committedFile.exists())) {
    return `docs/openapi/${file} is missing: run \`bun run openapi\` and commit the result`;
  }
  const committed = await committedFile.text();
  const generated = openApiJson(document);
  if (committed === generated) return null;
  const [was, now] = [committed.split("\n"), generated.split("\n")];
  const line = Math.max(
    0,
    was.findIndex((text, i) => text !== now[i]),
  );
  return (
    `docs/openapi/${file} is stale from line ${line + 1} (committed ${JSON.stringify(was[line])}, ` +
    `generated ${JSON.stringify(now[line])}): run \`bun run openapi\` and commit the result`
  );
}
