import { describe, expect, test } from "bun:test";
import {
  matchPath,
  OPERATIONS,
  operationPath,
  PARTNER_OPERATIONS,
  pathParamNames,
} from "../src/index.ts";
import { expandPath } from "../src/path-template.ts";

describe("the path templates of OPERATIONS", () => {
  test("are OpenAPI templates: a leading slash, whole segments, names of letters", () => {
    for (const name of PARTNER_OPERATIONS) {
      const { path } = OPERATIONS[name];
      expect({ name, path }).toEqual({
        name,
        path: expect.stringMatching(/^(\/([a-z0-9-]+|\{[A-Za-z]+\}))+$/),
      });
    }
  });

  test("expand with their ids in order, each encoded as one segment", () => {
    expect(operationPath("plates.remove", "site-1", "plate 1/2")).toBe(
      "/v1/sites/site-1/plates/plate%201%2F2",
    );
    expect(operationPath("intercom.open", "door-1")).toBe("/v1/intercoms/door-1/open");
    expect(operationPath("faces.list")).toBe("/v1/faces");
    // The client passes "" for a path without ids.
    expect(expandPath(OPERATIONS["faces.list"].path, [""])).toBe("/v1/faces");
    expect(() => expandPath(OPERATIONS["plates.remove"].path, ["site-1"])).toThrow("{plateId}");
  });

  test("match the paths they expand to, and nothing longer or shorter", () => {
    const template = OPERATIONS["plates.remove"].path;
    expect(pathParamNames(template)).toEqual(["siteId", "plateId"]);
    expect(matchPath(template, "/v1/sites/site-1/plates/plate%201")).toEqual({
      siteId: "site-1",
      plateId: "plate%201",
    });
    expect(matchPath(template, "/v1/sites/site-1/plates")).toBeNull();
    expect(matchPath(template, "/v1/sites/site-1/plates/p1/more")).toBeNull();
    expect(matchPath(template, "/v1/sites//plates/p1")).toBeNull();
    expect(matchPath(OPERATIONS.health.path, "/v1/health")).toEqual({});
    expect(matchPath(OPERATIONS.health.path, "/v1/healthz")).toBeNull();
  });
});
