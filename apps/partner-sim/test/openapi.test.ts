import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { partnerApiDocument } from "@propgate/partner-client/openapi";
import type { PartnerSim } from "../src/index.ts";
import { startTestSim } from "./helpers.ts";

describe("GET /openapi.json", () => {
  let sim: PartnerSim;
  beforeAll(async () => {
    sim = await startTestSim();
  });
  afterAll(() => sim.stop());

  test("serves the partner API document, without a token", async () => {
    const response = await fetch(`${sim.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    expect(await response.json()).toEqual(partnerApiDocument());
  });
});
