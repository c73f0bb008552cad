import { afterAll, describe, expect, test } from "bun:test";
import type { PrivacyReportDocument } from "@propgate/api";
import {
  createPropgateClient,
  type PropgateClient,
  PropgateError,
  verifyPrivacyReport,
} from "@propgate/client";
import { subjectFor } from "@propgate/partner-client";
import { createLocalJWKSet, flattenedVerify, type JSONWebKeySet } from "jose";
import { startTestStack } from "../src/testing/harness.ts";

/**
 * `privacy.report` over HTTP with `@propgate/client`, against partner-sim as both partners: two
 * residents with histories at the intercom and the barrier; the first's report lists exactly
 * theirs, verifies against the published key with `jose` and with the client, and the limit
 * answers 429 with Retry-After.
 */
const stack = await startTestStack();
afterAll(() => stack.close());

async function residentClient(sub: string): Promise<{ userId: string; api: PropgateClient }> {
  const token = await stack.issuer.mint({ sub, sites: ["site-a"] });
  return { userId: sub, api: createPropgateClient({ url: stack.api.url, getToken: () => token }) };
}

/** Opens at both partners, a plate added then its consent revoked (erased at the barrier), a key. */
async function history(api: PropgateClient) {
  for (const consent of await api.consent.list.query()) {
    await api.consent.grant.mutate({
      purpose: consent.purpose,
      noticeVersion: consent.currentNoticeVersion,
    });
  }
  await api.intercom.openDoor.mutate({ deviceId: "door-a1" });
  await api.intercom.openDoor.mutate({ deviceId: "door-a2" });
  await api.barrier.open.mutate({ deviceId: "gate-a" });
  await api.plates.add.mutate({ siteId: "site-a", plate: "А123ВС77" });
  const key = await api.keys.create.mutate({
    deviceIds: ["door-a1"],
    validUntil: new Date(Date.now() + 3_600_000).toISOString(),
  });
  await api.consent.revoke.mutate({ purpose: "plates" });
  return key.keyId;
}

const subjects = (userId: string) =>
  (["intercom", "barrier"] as const).map((partner) => ({
    partner,
    subject: subjectFor(userId, stack.deps.partners[partner].subjectKey),
  }));

describe("privacy.report over HTTP", () => {
  test("lists exactly the resident's data, verifies with jose and the client, a byte changed fails", async () => {
    const anna = await residentClient("user-report-anna");
    const boris = await residentClient("user-report-boris");
    const annaKey = await history(anna.api);
    const borisKey = await history(boris.api);
    await stack.background.runErasuresOnce();

    const published = await fetch(`${stack.api.url}/.well-known/propgate-audit-keys.json`);
    const jwks = (await published.json()) as JSONWebKeySet;
    const report = await anna.api.privacy.report.mutate();

    // Verified as a resident's own tool would: jose, the detached payload re-attached.
    const [header, detached, signature] = (report.jws ?? "").split(".");
    expect(detached).toBe("");
    const verified = await flattenedVerify(
      {
        protected: header,
        payload: Buffer.from(report.document).toString("base64url"),
        signature: signature ?? "",
      },
      createLocalJWKSet(jwks),
    );
    expect(verified.protectedHeader).toEqual({
      alg: "EdDSA",
      kid: jwks.keys[0]?.kid,
      typ: "privacy-report+jws",
    });
    const doc = (await verifyPrivacyReport(report, jwks)) as unknown as PrivacyReportDocument; // the api's own type of it
    const changed = report.document.replace("user-report-anna", "user-report-anne");
    await expect(verifyPrivacyReport({ ...report, document: changed }, jwks)).rejects.toThrow(
      "does not match",
    );

    expect(doc.subject).toBe(anna.userId);
    expect(doc.partners.pseudonyms.map(({ partner, subject }) => ({ partner, subject }))).toEqual(
      subjects(anna.userId).sort((a, b) => a.partner.localeCompare(b.partner)),
    );
    const sent = doc.partners.monthly
      .filter((row) => row.kind === "partner.request")
      .map((row) => `${row.partner} ${row.operation} ${row.count}`)
      .sort();
    expect(sent).toEqual([
      "barrier barrier.open 1",
      "barrier plates.add 1",
      "barrier subjects.erase 1",
      "intercom intercom.open 2",
      "intercom keys.create 1",
    ]);
    expect(doc.consents.current.find((c) => c.purpose === "plates")?.state).toBe("revoked");
    expect(doc.consents.history.filter((e) => e.purpose === "plates").map((e) => e.action)).toEqual(
      ["revoke", "grant"],
    );
    expect(doc.erasures.requests.map((e) => [e.partner, e.categories, e.status])).toEqual([
      ["barrier", ["plates"], "done"],
    ]);
    expect(doc.erasures.destructionRecords).toEqual([
      expect.objectContaining({ partner: "barrier", categories: ["plates"] }),
    ]);
    expect(doc.guestKeys.inForce.map((key) => key.id)).toEqual([annaKey]);
    expect(report.document).not.toContain("А123ВС77"); // the plate is kept nowhere

    for (const foreign of [boris.userId, borisKey, ...subjects(boris.userId).map((s) => s.subject)])
      expect(report.document).not.toContain(foreign);

    const { rows } = await stack
      .client(await stack.issuer.mint({ sub: "admin-report", sites: [], admin: true }))
      .admin.audit.list.query({ userId: anna.userId, kind: "privacy.report" });
    expect(rows.map((row) => row.id)).toEqual([doc.reportId]);
  });

  test("past RATE_LIMIT_PRIVACY_REPORTS_PER_HOUR: 429 RATE_LIMITED with Retry-After", async () => {
    const carl = await residentClient("user-report-carl");
    const token = await stack.issuer.mint({ sub: carl.userId, sites: ["site-a"] });
    const post = () =>
      fetch(`${stack.api.url}/trpc/privacy.report`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      });
    for (let i = 0; i < 6; i++) expect((await post()).status).toBe(200);
    const refused = await post();
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(60);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.headers.get("ratelimit-policy")).toContain('"privacy_report";q=6;w=3600');
    const error = await carl.api.privacy.report.mutate().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PropgateError);
    expect((error as PropgateError).code).toBe("RATE_LIMITED");
    expect((error as PropgateError).retryAfterSeconds).toBeGreaterThan(60);
  });
});
