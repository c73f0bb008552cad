import { join } from "node:path";
import { residentApiDocument } from "@propgate/api";
import { openApiJson, partnerApiDocument } from "@propgate/partner-client/openapi";
import { partnerSurfaceDocument } from "@propgate/server";

/** Writes the OpenAPI documents (`bun run openapi`); tests fail when they are stale. */
const folder = join(import.meta.dir, "../docs/openapi");
const documents = {
  "partner-api.json": partnerApiDocument(),
  "partner-surface.json": partnerSurfaceDocument(),
  "resident-api.json": residentApiDocument(),
};
for (const [file, document] of Object.entries(documents)) {
  await Bun.write(join(folder, file), openApiJson(document));
  console.log(`wrote docs/openapi/${file}`);
}
