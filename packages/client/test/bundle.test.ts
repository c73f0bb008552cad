import { expect, test } from "bun:test";
import { isBuiltin } from "node:module";

/**
 * For web and React Native: a browser bundle of the package imports no Node module and none of
 * the server (`@propgate/api` is a type import only).
 */
test("a browser bundle made with Bun.build holds no Node-only module and no server code", async () => {
  const result = await Bun.build({
    entrypoints: [`${import.meta.dir}/../src/index.ts`],
    target: "browser",
    metafile: true,
  });
  expect(result.logs.filter((log) => log.level === "error")).toEqual([]);
  expect(result.success).toBe(true);

  const inputs = Object.entries(result.metafile?.inputs ?? {});
  expect(inputs.length).toBeGreaterThan(5);
  const imported = inputs.flatMap(([file, input]) =>
    input.imports.map((entry) => ({ file, path: entry.path })),
  );
  expect(imported.filter((entry) => isBuiltin(entry.path))).toEqual([]);
  // Only this package's own files, tRPC's client side and the EventSource that sends headers
  // (`eventsource`, with its parser): no other workspace package.
  const files = inputs.map(([file]) => file);
  const allowed = ["/@trpc/", "/node_modules/eventsource/", "/node_modules/eventsource-parser/"];
  expect(
    files.filter(
      (file) => !file.startsWith("src/") && !allowed.some((part) => file.includes(part)),
    ),
  ).toEqual([]);

  const code = (await result.outputs[0]?.text()) ?? "";
  expect(code).toContain("createPropgateClient");
  // tRPC reads `globalThis.process?.env` behind a guard; a require() or a node: import would break.
  expect(code.match(/\brequire\(|from ?["']node:|import\(["']node:/g)).toBeNull();
  const serverOnly = ["initTRPC", "fetchRequestHandler", "drizzle", "postgres", "pino"];
  expect(serverOnly.filter((name) => code.includes(name))).toEqual([]);
});
