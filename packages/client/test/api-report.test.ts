import { expect, test } from "bun:test";
import { residentApiDocument } from "@propgate/api";
import {
  REPORT_FILE,
  reportHash,
  routerDeclaration,
  VERSIONS_FILE,
  type Versions,
} from "../build.ts";

/**
 * The router types this client version publishes (`api/app-router.d.ts`) are the api's router
 * now: a procedure added, removed or changed fails here until the report is written again under
 * a new version with its CHANGELOG entry and its line in the README's compatibility table.
 */
const HERE = `${import.meta.dir}/..`;
const { version } = (await Bun.file(`${HERE}/package.json`).json()) as { version: string };
const versions = (await Bun.file(VERSIONS_FILE).json()) as Versions;
const committed = await Bun.file(REPORT_FILE).text();

test("the committed router types describe the api's router", async () => {
  const fresh = await routerDeclaration();
  if (fresh !== committed)
    throw new Error(
      "The api's router changed in a way @propgate/client's published types do not describe: " +
        "bump the version in packages/client/package.json, add its CHANGELOG.md entry and " +
        "README row, then run `bun run --cwd packages/client api-report`.",
    );
  // It names no workspace package: an app outside this repository resolves every type.
  expect(fresh.match(/["']@propgate\/[\w/-]+["']/g)).toBeNull();
  expect(fresh).toContain("openDoor: TRPCMutationProcedure<");
}, 60_000);

test("this version's line names these router types and the resident api it speaks", () => {
  expect(versions[version]).toEqual({
    api: residentApiDocument().info.version,
    router: reportHash(committed),
  });
});

test("every version has a CHANGELOG entry and a row in the README's compatibility table", async () => {
  const changelog = await Bun.file(`${HERE}/CHANGELOG.md`).text();
  const readme = await Bun.file(`${HERE}/README.md`).text();
  for (const [each, { api }] of Object.entries(versions)) {
    expect(changelog).toContain(`\n## ${each}\n`);
    const row = `\\|\\s*${each.replaceAll(".", "\\.")}\\s*\\|\\s*\`${api}\`\\s*\\|`;
    expect(readme).toMatch(new RegExp(row));
  }
});
