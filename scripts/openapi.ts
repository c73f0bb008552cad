import { residentApiDocument } from "@propgate/api";
import { writeDocument } from "@propgate/openapi";
import { partnerApiDocument } from "@propgate/partner-client/openapi";
import { partnerSurfaceDocument } from "@propgate/server";

/** Writes the OpenAPI documents (`bun run openapi`); tests fail when they are stale. */
const documents = {
  "partner-api.json": partnerApiDocument(),
  "partner-surface.json": partnerSurfaceDocument(),
  "resident-api.json": residentApiDocument(),
};
for (const [file, document] of Object.entries(documents)) {
  await writeDocument(file, document);
  console.log(`wrote docs/openapi/${file}`);
}
