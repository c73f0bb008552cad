import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { listAuditEvents } from "@propgate/consent-audit";
import { subjectFor } from "@propgate/partner-client";
import { clearRecorders, errorOf, type Resident, startTestStack } from "../src/testing/harness.ts";

const stack = await startTestStack();
afterAll(() => stack.close());
beforeEach(() => clearRecorders(stack));

/** A tiny but well-formed JPEG (SOI … EOI) with a distinctive payload. */
function jpeg(marker: string, size = 64): string {
  const body = Buffer.alloc(size, 0x20);
  body.write(marker, 0);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    body,
    Buffer.from([0xff, 0xd9]),
  ]).toString("base64");
}

async function withConsent(
  userId: string,
  purposes: Array<"plates" | "faces">,
  sites = ["site-a"],
): Promise<Resident> {
  const resident = await stack.resident(userId, sites);
  for (const purpose of purposes)
    await resident.trpc.consent.grant.mutate({ purpose, noticeVersion: 1 });
  return resident;
}

const partnerCalls = () =>
  [...stack.sims.intercom.recorder.all(), ...stack.sims.barrier.recorder.all()].filter(
    (record) => !["token", "metadata", "jwks"].includes(record.operation),
  );

describe("plates", () => {
  test("add, list and remove pass through to the barrier partner, normalized, with exactly the contract's fields", async () => {
    const resident = await withConsent("user-plates", ["plates"]);
    const added = await resident.trpc.plates.add.mutate({
      siteId: "site-a",
      plate: "в 777 ор 150",
      validUntil: "2099-01-01T00:00:00Z",
    });
    expect(added.plate).toBe("B777OP150");
    const [call] = stack.sims.barrier.recorder.all({ operation: "plates.add" });
    expect(call?.bodyFields).toEqual(["plate", "subject", "validUntil"]);
    expect(call?.subject).toBe(subjectFor("user-plates", stack.deps.partners.barrier.subjectKey));
    expect(
      (await resident.trpc.plates.list.query({ siteId: "site-a" })).map((plate) => plate.plate),
    ).toEqual(["B777OP150"]);
    await resident.trpc.plates.remove.mutate({ siteId: "site-a", plateId: added.id });
    expect(await resident.trpc.plates.list.query({ siteId: "site-a" })).toEqual([]);
  });

  test("bad plates, foreign sites and missing consent → clear errors, nothing sent to the partner", async () => {
    const resident = await withConsent("user-plates-bad", ["plates"]);
    const bad = await errorOf(
      resident.trpc.plates.add.mutate({ siteId: "site-a", plate: "Q999QQ99" }),
    );
    expect(bad).toMatchObject({
      code: "BAD_REQUEST",
      cause: "INVALID_INPUT",
      message: "plate is not a valid Russian registration plate",
    });
    const foreign = await errorOf(
      resident.trpc.plates.add.mutate({ siteId: "site-b", plate: "A123BC77" }),
    );
    expect(foreign).toMatchObject({ code: "FORBIDDEN", cause: "FORBIDDEN" });
    const past = await errorOf(
      resident.trpc.plates.add.mutate({
        siteId: "site-a",
        plate: "A123BC77",
        validUntil: "2001-01-01T00:00:00Z",
      }),
    );
    expect(past.cause).toBe("INVALID_INPUT");
    const noConsent = await stack.resident("user-plates-no-consent");
    expect((await errorOf(noConsent.trpc.plates.list.query({ siteId: "site-a" }))).cause).toBe(
      "CONSENT_REQUIRED",
    );
    expect(partnerCalls()).toHaveLength(0);
  });

  test("the partner's refusal (duplicate plate) is a clear PARTNER_REJECTED", async () => {
    const resident = await withConsent("user-plates-dup", ["plates"]);
    await resident.trpc.plates.add.mutate({ siteId: "site-a", plate: "A123BC77" });
    const duplicate = await errorOf(
      resident.trpc.plates.add.mutate({ siteId: "site-a", plate: "а123вс77" }),
    );
    expect(duplicate.cause).toBe("PARTNER_REJECTED");
  });

  test("a refusal in the partner's own prose still gets its audit row, without the prose", async () => {
    const resident = await withConsent("user-plates-prose", ["plates"]);
    const prose = "plate A777AA77 exists, owner Ivanov";
    stack.sims.barrier.faults.set({ failNext: 1, errorStatus: 409, errorCode: prose });
    try {
      const refused = await errorOf(
        resident.trpc.plates.add.mutate({ siteId: "site-a", plate: "A777AA77" }),
      );
      expect(refused.cause).toBe("PARTNER_REJECTED");
      expect(refused.message).not.toContain("Ivanov");
    } finally {
      stack.sims.barrier.faults.reset();
    }
    // The answer's row is written after the answer, in the writer's next batch.
    await stack.deps.auditWriter.flush();
    const rows = await listAuditEvents(stack.database.db, { userId: resident.userId });
    const response = rows.find((row) => row.kind === "partner.response");
    expect(response).toMatchObject({
      operation: "plates.add",
      result: "error",
      httpStatus: 409,
      errorCode: "http_409",
    });
    expect(rows.filter((row) => row.kind === "partner.request")).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain("Ivanov");
  });
});

describe("faces", () => {
  test("enroll, list and remove pass the JPEG to the intercom partner, with exactly the contract's fields", async () => {
    const resident = await withConsent("user-faces", ["faces"]);
    const face = await resident.trpc.faces.enroll.mutate({ image: jpeg("face-of-user-faces") });
    expect(face.faceId).toBeString();
    const [call] = stack.sims.intercom.recorder.all({ operation: "faces.enroll" });
    expect(call?.bodyFields).toEqual(["image", "subject"]);
    expect(call?.imageBytes).toBe(70);
    expect((await resident.trpc.faces.list.query()).map((f) => f.faceId)).toEqual([face.faceId]);
    await resident.trpc.faces.remove.mutate({ faceId: face.faceId });
    expect(await resident.trpc.faces.list.query()).toEqual([]);
  });

  test("non-JPEG, oversized and non-base64 images → INVALID_INPUT, nothing sent", async () => {
    const resident = await withConsent("user-faces-bad", ["faces"]);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]).toString(
      "base64",
    );
    expect((await errorOf(resident.trpc.faces.enroll.mutate({ image: png }))).message).toBe(
      "image must be a JPEG",
    );
    expect(
      (await errorOf(resident.trpc.faces.enroll.mutate({ image: "not base64!" }))).message,
    ).toBe("image must be base64");
    const huge = jpeg("huge", stack.deps.settings.faceMaxImageBytes + 10);
    const tooBig = await errorOf(resident.trpc.faces.enroll.mutate({ image: huge }));
    expect(tooBig.code).toBe("BAD_REQUEST");
    expect(partnerCalls()).toHaveLength(0);
  });
});
