import { afterAll, describe, expect, test } from "bun:test";
import { createPartnerSimApp } from "../src/index.ts";
import { DOOR_APP, subjectOf } from "./helpers.ts";

// The contract's routes as the wire sees them, written out here on purpose: the sim builds them
// from OPERATIONS, and this table catches a template or method that moved.
const sim = await createPartnerSimApp({
  issuer: "http://127.0.0.1:9",
  clients: [DOOR_APP],
  intercoms: ["door-1"],
  barriers: ["gate-1"],
});
afterAll(() => sim.close());
const subject = subjectOf("resident-routes");

const ROUTES = [
  ["POST", "/v1/intercoms/door-1/open", "intercom.open", "POST"],
  ["POST", "/v1/barriers/gate-1/open", "barrier.open", "POST"],
  ["POST", "/v1/cameras/cam-1/webrtc", "video.create", "POST"],
  ["DELETE", "/v1/sessions/s1", "video.delete", "DELETE"],
  ["GET", `/v1/sites/site-1/plates?subject=${subject}`, "plates.list", "GET, POST"],
  ["POST", "/v1/sites/site-1/plates", "plates.add", "GET, POST"],
  ["DELETE", `/v1/sites/site-1/plates/p1?subject=${subject}`, "plates.remove", "DELETE"],
  ["GET", `/v1/faces?subject=${subject}`, "faces.list", "GET, POST"],
  ["POST", "/v1/faces", "faces.enroll", "GET, POST"],
  ["DELETE", `/v1/faces/f1?subject=${subject}`, "faces.remove", "DELETE"],
  ["DELETE", `/v1/subjects/${subject}?categories=faces`, "subjects.erase", "DELETE"],
  ["GET", "/v1/health", "health", null],
] as const;

async function send(method: string, path: string) {
  sim.recorder.clear();
  const response = await sim.api.request(path, { method });
  const [record] = sim.recorder.all();
  return { response, record };
}

describe("the contract's routes", () => {
  test("each operation is served at its method and path: without a token, 401", async () => {
    for (const [method, path, operation] of ROUTES) {
      const { response, record } = await send(method, path);
      expect({ path, status: response.status, operation: record?.operation }).toEqual({
        path,
        status: 401,
        operation,
      });
    }
  });

  test("another method at the path is 405 naming the allowed ones; health has no such rule", async () => {
    for (const [, path, operation, allow] of ROUTES) {
      const { response, record } = await send("PATCH", path);
      if (allow === null) {
        expect(response.status).toBe(404);
        continue;
      }
      expect({ path, status: response.status, allow: response.headers.get("allow") }).toEqual({
        path,
        status: 405,
        allow,
      });
      expect(await response.json()).toEqual({
        error: "method_not_allowed",
        message: `use ${allow.replace(", ", " or ")}`,
      });
      // A path two operations share needs the method to say which; alone, the path does.
      const shared = allow.includes(",");
      expect({ path, operation: record?.operation }).toEqual({
        path,
        operation: shared ? "unknown" : operation,
      });
    }
  });

  test("HEAD counts as GET, ids are recorded, the standard WHEP path, nothing else", async () => {
    expect((await send("HEAD", `/v1/faces?subject=${subject}`)).record?.operation).toBe(
      "faces.list",
    );
    const removal = (await send("DELETE", `/v1/sites/site-1/plates/p%201?subject=${subject}`))
      .record;
    expect(removal).toMatchObject({ siteId: "site-1", subject, operation: "plates.remove" });
    expect(removal?.plateId).toBeUndefined(); // "p 1" is no partner record id
    const faceRemoval = (await send("DELETE", `/v1/faces/f-1?subject=${subject}`)).record;
    expect(faceRemoval).toMatchObject({ faceId: "f-1", subject });
    // A `standard` partner's WHEP session path, the sim's own.
    const standard = await send("DELETE", "/streams/cam-1/whep/s1");
    expect([standard.response.status, standard.record?.operation]).toEqual([401, "video.delete"]);
    expect((await send("GET", "/streams/cam-1/whep/s1")).response.headers.get("allow")).toBe(
      "DELETE",
    );
    for (const path of ["/v1/faces/f1/more", "/v1/sites/site-1", "/v1/healthz"]) {
      const { response, record } = await send("GET", path);
      expect({ path, status: response.status, operation: record?.operation }).toEqual({
        path,
        status: 404,
        operation: "unknown",
      });
    }
  });
});
