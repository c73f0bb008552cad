import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { PrivacyReportDocument } from "@propgate/api";
import { verifyPrivacyReport } from "@propgate/client";
import { createLocalJWKSet, flattenedVerify, type JSONWebKeySet } from "jose";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startTestStack, type TestStack } from "../src/testing/harness.ts";
import { chromiumAvailable, englishContext, launchChromium, signIn } from "./admin-browser.ts";

/**
 * The resident screen's "Privacy report" in Chromium: an operator gives a reason and gets one
 * file, `{ document, jws }`, that verifies with only itself and the published JWKS; the report is
 * audited with the operator and the reason. A viewer has no such button.
 */
const available = chromiumAvailable("admin privacy report browser test");

let stack: TestStack;
let browser: Browser;
let operator: BrowserContext;
let viewer: BrowserContext;

beforeAll(async () => {
  if (!available) return;
  stack = await startTestStack({ logLevel: "warn" });
  browser = await launchChromium();
  const context = () =>
    englishContext(browser, {
      locale: "en-GB",
      viewport: { width: 1400, height: 900 },
      acceptDownloads: true,
    });
  operator = await context();
  viewer = await context();
  for (const [who, account] of [
    [operator, "operator"],
    [viewer, "viewer"],
  ] as const) {
    const page = await who.newPage();
    await signIn(page, stack.admin.url, stack.issuer.url, account);
    await page.close();
  }
}, 180_000);

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await stack?.close();
});

async function openResident(context: BrowserContext, userId: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${stack.admin.url}/#/resident?userId=${encodeURIComponent(userId)}`);
  await page.locator("#signed-in[data-role]").waitFor();
  await page.locator('#consents tr[data-state="granted"]').first().waitFor();
  return page;
}

describe.skipIf(!available)("the privacy report on the resident screen", () => {
  test("an operator downloads the signed report; it verifies from the file and the JWKS alone", async () => {
    const resident = await stack.resident("user-report-browser");
    await resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const other = await stack.resident("user-report-browser-other");
    await other.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });

    const page = await openResident(operator, resident.userId);
    await page.getByRole("button", { name: "Privacy report" }).click();
    await page.getByLabel(/Reason/).fill("written request no. 17");
    const downloading = page.waitForEvent("download");
    await page.getByRole("button", { name: "Download report" }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(
      /^privacy-report-user-report-browser-\d{4}-\d\d-\d\d\.json$/,
    );
    expect(download.url()).toStartWith(`blob:${stack.admin.url}/`);
    await page.locator("#confirm").waitFor({ state: "hidden" });

    // Only the file and the published key set from here on.
    const file = JSON.parse(readFileSync(await download.path(), "utf8"));
    const jwks = (await (
      await fetch(`${stack.api.url}/.well-known/propgate-audit-keys.json`)
    ).json()) as JSONWebKeySet;
    const [header, , signature] = String(file.jws).split(".");
    await flattenedVerify(
      {
        protected: header,
        payload: Buffer.from(file.document).toString("base64url"),
        signature: signature ?? "",
      },
      createLocalJWKSet(jwks),
    );
    const doc = (await verifyPrivacyReport(file, jwks)) as unknown as PrivacyReportDocument; // the api's own type of it
    expect(doc).toMatchObject({ subject: resident.userId, requestedThrough: "operator" });
    expect(doc.consents.current.find((c) => c.purpose === "intercom")?.state).toBe("granted");
    expect(doc.partners.pseudonyms.map((p) => p.partner)).toEqual(["intercom"]);
    expect(file.document).not.toContain(other.userId);
    const edited = { ...file, document: file.document.replace('"granted"', '"revoked"') };
    await expect(verifyPrivacyReport(edited, jwks)).rejects.toThrow("does not match");

    const admin = stack.client(
      await stack.issuer.mint({ sub: "report-check", sites: [], admin: true }),
    );
    const { rows } = await admin.admin.audit.list.query({
      userId: resident.userId,
      kind: "admin.privacy.report",
    });
    expect(rows).toEqual([
      expect.objectContaining({
        id: doc.reportId,
        actor: "dev-operator",
        reason: "written request no. 17",
      }),
    ]);
    await page.close();
  });

  test("a viewer sees the resident but no Privacy report button", async () => {
    const resident = await stack.resident("user-report-viewed");
    await resident.trpc.consent.grant.mutate({ purpose: "barrier", noticeVersion: 1 });
    const page = await openResident(viewer, resident.userId);
    expect(await page.locator("#signed-in").getAttribute("data-role")).toBe("viewer");
    expect(await page.getByRole("button", { name: "Privacy report" }).isHidden()).toBe(true);
    await page.close();
    const operatorPage = await openResident(operator, resident.userId);
    await operatorPage.getByRole("button", { name: "Privacy report" }).waitFor();
    await operatorPage.close();
  });
});
