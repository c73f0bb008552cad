import { expect, test } from "bun:test";
import { bundlePageScript } from "../src/page-script.ts";

const ENTRY = `${import.meta.dir}/../src/index.ts`;

test("bundlePageScript: the entry and its imports as one minified browser script", async () => {
  const code = await bundlePageScript(ENTRY);
  expect(code).toContain("createPropgateClient");
  expect(code.match(/\brequire\(|from ?["']node:|import\(["']node:/g)).toBeNull();
  const plain = await Bun.build({ entrypoints: [ENTRY], target: "browser" });
  const unminified = (await plain.outputs[0]?.text()) ?? "";
  expect(code.length).toBeLessThan(unminified.length * 0.7);
});

test("bundlePageScript: an entry that does not build is an error, not an empty script", async () => {
  await expect(bundlePageScript(`${import.meta.dir}/no-such-page.ts`)).rejects.toThrow();
});
