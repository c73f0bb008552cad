/** A stylesheet imported `with { type: "text" }`: Bun gives its text (app.ts serves uPlot's). */
declare module "*.css" {
  const text: string;
  // biome-ignore lint/style/noDefaultExport: a text import's value is the module's default export
  export default text;
}
