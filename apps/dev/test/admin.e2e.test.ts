import { afterAll, describe, expect, test } from "bun:test";
import { savePartnerHealth } from "@propgate/consent-audit";
import { auditEvents } from "@propgate/consent-audit/schema";
import { appendUnsignedRows } from "@propgate/consent-audit/testing";
import { eq } from "drizzle-orm";
import { errorOf, startTestStack } from "../src/testing/harness.ts";

const stack = await startTestStack();
afterAll(() => stack.close());

async function admin() {
  const token = await stack.issuer.mint({ sub: "admin-1", sites: [], admin: true });
  return stack.client(token);
}

describe("admin.devices", () => {
  test("an admin registers a device; residents of its site see it; the change is audited", async () => {
    const client = await admin();
    const result = await client.admin.devices.upsert.mutate({
      devices: [
        {
          id: "door-c1",
          kind: "door",
          siteId: "site-c",
          partner: "intercom",
          partnerDeviceId: "ic-c1",
          name: "Building C",
        },
      ],
      reason: "new building C",
    });
    expect(result).toEqual({ upserted: 1 });
    const all = await client.admin.devices.list.query();
    expect(all.find((device) => device.id === "door-c1")).toMatchObject({
      siteId: "site-c",
      partnerDeviceId: "ic-c1",
    });
    const resident = await stack.resident("user-site-c", ["site-c"]);
    expect((await resident.trpc.devices.list.query()).map((device) => device.id)).toEqual([
      "door-c1",
    ]);
    const audit = await client.admin.audit.list.query({ kind: "admin.devices.upsert", limit: 5 });
    expect(audit.rows[0]).toMatchObject({
      actor: "admin-1",
      target: "door-c1",
      sourceApp: "api",
      reason: "new building C",
    });
  });

  test("a bad record is a clear BAD_REQUEST and nothing is written", async () => {
    const client = await admin();
    const error = await errorOf(
      client.admin.devices.upsert.mutate({
        devices: [
          {
            id: "door-d1",
            kind: "door",
            siteId: "site-d",
            partner: "intercom",
            partnerDeviceId: "ic-d1",
            name: "D",
          },
          {
            id: "door-d2",
            kind: "window" as "door" /* an unknown kind, as a careless client sends it */,
            siteId: "site-d",
            partner: "intercom",
            partnerDeviceId: "ic-d2",
            name: "D2",
          },
        ],
        reason: "new building D",
      }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST", cause: "INVALID_INPUT" });
    expect(
      (await client.admin.devices.list.query()).some((device) => device.siteId === "site-d"),
    ).toBe(false);
  });

  test("residents cannot read the audit trail", async () => {
    const resident = await stack.resident("user-curious");
    expect((await errorOf(resident.trpc.admin.audit.list.query({}))).code).toBe("FORBIDDEN");
  });
});

describe("admin.audit.verify", () => {
  test("names a forged chain that the audit key never signed", async () => {
    const client = await admin();
    const chainId = "forged/1/x/w1.0";
    await appendUnsignedRows(stack.database.db, chainId, 1);
    try {
      const verdict = await client.admin.audit.verify.query();
      expect(verdict.ok ? "" : verdict.reason).toContain(
        `chain ${chainId} has 1 row(s) and no signed checkpoint`,
      );
    } finally {
      await stack.database.db.delete(auditEvents).where(eq(auditEvents.chainId, chainId));
    }
  });

  test("partner calls get signed checkpoints, logged too; a cut tail is reported", async () => {
    const client = await admin();
    const resident = await stack.resident("user-checkpoints");
    await resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    // Rows not yet signed (the writer signs within AUDIT_CHECKPOINT_SECONDS): a live chain.
    await stack.deps.auditWriter.flush();
    expect(await client.admin.audit.verify.query()).toMatchObject({ ok: true });
    // Signed now, as the writer's timer would.
    await stack.deps.auditWriter.checkpoint();
    const verdict = await client.admin.audit.verify.query();
    expect(verdict).toMatchObject({ ok: true, checkpoints: expect.any(Number) });
    const logged = stack.logs.filter((line) => line.msg === "audit checkpoint");
    expect(logged.length).toBeGreaterThan(0);
    expect(logged[0]).toMatchObject({
      chainSeq: expect.any(Number),
      closing: false,
      checkpoint: expect.stringMatching(/^[0-9a-f]+$/),
    });
    // Cut the newest rows (and keep their checkpoint): verify names the cut.
    await stack.database.db.execute(
      "delete from audit_events where seq >= (select max(seq) - 1 from audit_events)",
    );
    const cut = await client.admin.audit.verify.query();
    expect(cut).toMatchObject({ ok: false, firstBadSeq: null });
    expect(cut.ok ? "" : cut.reason).toContain("ends before its signed checkpoint");
  });

  test("reports a tampered row once someone edits one", async () => {
    const client = await admin();
    await stack.database.db.execute(
      "update audit_events set result = 'tampered' where seq = (select min(seq) from audit_events)",
    );
    const verdict = await client.admin.audit.verify.query();
    expect(verdict.ok).toBe(false);
  });
});

describe("admin.partners.health", () => {
  test("reads what the health probe saved; residents are refused", async () => {
    const since = new Date("2026-12-01T10:00:00.000Z");
    await savePartnerHealth(
      stack.database.db,
      [
        {
          partner: "barrier",
          check: "health",
          state: "firing",
          consecutiveFailures: 3,
          lastError: "answered 503",
          since,
          notified: "firing",
        },
      ],
      [
        {
          partner: "barrier",
          check: "health",
          from: "failing",
          to: "firing",
          at: since,
          error: "answered 503",
        },
      ],
    );
    const client = await admin();
    const report = await client.admin.partners.health.query();
    expect(report.checks).toContainEqual({
      partner: "barrier",
      check: "health",
      state: "firing",
      consecutiveFailures: 3,
      lastError: "answered 503",
      since: since.toISOString(),
    });
    expect(report.transitions[0]).toMatchObject({
      partner: "barrier",
      from: "failing",
      to: "firing",
    });
    const resident = await stack.resident("user-not-admin");
    expect(await errorOf(resident.trpc.admin.partners.health.query())).toMatchObject({
      httpStatus: 403,
    });
  });
});
