/** The part of swagger-client (which ships no types) that resident-openapi.e2e.test.ts uses. */
declare module "swagger-client" {
  interface ExecuteOptions {
    spec: unknown;
    operationId: string;
    parameters?: Record<string, unknown>;
    requestBody?: unknown;
    securities?: { authorized: Record<string, { value: string }> };
    server?: string;
    serverVariables?: Record<string, string>;
  }
  interface Response {
    url: string;
    status: number;
    headers: Record<string, string>;
    body: unknown;
  }
  const SwaggerClient: {
    /** The request the document says for the operation and values, without sending it. */
    buildRequest(options: ExecuteOptions): {
      url: string;
      method: string;
      headers: Record<string, string>;
      body?: unknown;
    };
    /** Builds and sends it; rejects on a status of 400 or more, with the answer as `response`. */
    execute(options: ExecuteOptions): Promise<Response>;
  };
  // biome-ignore lint/style/noDefaultExport: the library's own shape (its ES module's default export)
  export default SwaggerClient;
}
