/**
 * The script of a browser page built on this client (the admin page, the dev video page): its
 * entry module and everything it imports, bundled by Bun.build into one minified file to serve.
 * A server-side helper, exported apart (`@propgate/client/page-script`) so no page bundles it.
 */
export async function bundlePageScript(entry: string): Promise<string> {
  const result = await Bun.build({ entrypoints: [entry], target: "browser", minify: true });
  const [output] = result.outputs;
  if (!result.success || !output) throw new Error(`bundling the page script ${entry} failed`);
  return output.text();
}
