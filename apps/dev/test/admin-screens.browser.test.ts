import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { appendJournal, recordVpnEvent } from "@propgate/consent-audit";
import { PURPOSES } from "@propgate/domain";
import { loadProbeEnv, startHealthProbe } from "@propgate/health-probe";
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
  clearRecorders,
  errorOf,
  grant,
  type Resident,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { chromiumAvailable, englishContext, launchChromium, signIn } from "./admin-browser.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

/**
 * The admin app's screens in Chromium, on the whole stack (issue 13): an operator revokes a
 * resident's consent (refused at once, nothing reaches the partner, both on the audit trail),
 * revokes all, retries an erasure and ends a video session; a viewer sees no action buttons;
 * a block is shown and lifted; partner health turns red and green with the health probe writing
 * `partner_health`; VPN events and devices render. The audit trail over 100,000 rows:
 * admin-audit.browser.test.ts.
 */
const available = chromiumAvailable("admin screens browser test");
const SCREENSHOTS = join(import.meta.dir, "screenshots");
/** The admin's zone differs from UTC, so the page must convert the api's instants. */
const TIME_ZONE = "Europe/Berlin";

let stack: TestStack;
let browser: Browser;
let operator: BrowserContext;
let viewer: BrowserContext;
const offers = createOfferMaker();

beforeAll(async () => {
  if (!available) return;
  // Erasures stay pending until a test runs the worker (the Retry button acts on pending ones).
  stack = await startTestStack({ logLevel: "warn", env: { ERASURE_INTERVAL_MS: "3600000" } });
  browser = await launchChromium();
  const context = () =>
    englishContext(browser, {
      timezoneId: TIME_ZONE,
      locale: "en-GB",
      viewport: { width: 1400, height: 900 },
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
});

afterAll(async () => {
  if (!available) return;
  await offers.close();
  await browser?.close();
  await stack?.close();
});

/** A page of the admin app at `#/<hash>`, once it knows who is signed in. */
async function open(context: BrowserContext, hash: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${stack.admin.url}/#/${hash}`);
  await page.locator("#signed-in[data-role]").waitFor();
  return page;
}

/** No error box is showing (the page's or a screen's). */
async function expectNoErrors(page: Page) {
  const shown = await page.locator('[role="alert"]:visible').allTextContents();
  expect(shown).toEqual([]);
}

async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function lookUp(page: Page, userId: string) {
  await page.getByLabel("Resident user id").fill(userId);
  await page.getByRole("button", { name: "Look up" }).click();
  await page.locator("#resident-summary", { hasText: userId }).waitFor();
}

/** A resident with every purpose granted. */
async function residentWithAll(userId: string): Promise<Resident> {
  const resident = await stack.resident(userId);
  for (const consent of await resident.trpc.consent.list.query()) {
    await resident.trpc.consent.grant.mutate({
      purpose: consent.purpose,
      noticeVersion: consent.currentNoticeVersion,
    });
  }
  return resident;
}

/** A block in force on a resident who tried ten devices that are not theirs (`enumeration`). */
async function blockedResident(userId: string) {
  const prober = await stack.resident(userId);
  for (let i = 0; i < 10; i++)
    await errorOf(prober.trpc.intercom.openDoor.mutate({ deviceId: `door-probe${i}` }));
  await stack.deps.watch.settle();
  const admin = stack.client(
    await stack.issuer.mint({ sub: "test-setup", sites: [], role: "viewer" }),
  );
  const [block] = await admin.admin.blocks.list.query({ subjectId: userId, activeOnly: true });
  if (!block) throw new Error("ten refused devices placed no block");
  return { prober, block };
}

/** A resident with a granted purpose, a pending erasure and a live video session. */
async function residentWithEverything(userId: string) {
  const resident = await residentWithAll(userId);
  await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
  const session = await resident.trpc.video.createSession.mutate({
    cameraId: "cam-a1",
    offerSdp: await offers.makeOffer(),
  });
  return { resident, sessionId: session.sessionId };
}

describe.skipIf(!available)("the resident screen", () => {
  test("an operator revokes intercom with a reason: refused at once, the partner gets nothing, both on the audit trail", async () => {
    const resident = await stack.resident("resident-screens-revoke");
    await grant(resident, ["intercom", "barrier"]);
    const page = await open(operator, "resident");
    await lookUp(page, resident.userId);
    const intercom = page.locator('#consents tr[data-purpose="intercom"]');
    await intercom.and(page.locator('[data-state="granted"]')).waitFor();
    expect(await page.locator("#time-zone").textContent()).toBe(`Times in ${TIME_ZONE}`);

    // By keyboard: the button, then the dialog's reason, then Enter.
    await intercom.getByRole("button", { name: "Revoke intercom" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", {
      name: `Revoke opening doors for ${resident.userId}`,
    });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("takes effect at once");
    // No reason: the form is not sent (the field is required), and nothing changes.
    await page.keyboard.press("Enter");
    expect(await dialog.isVisible()).toBe(true);
    expect(await intercom.getAttribute("data-state")).toBe("granted");
    await page.keyboard.type("written request from the resident, ticket 4711");
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "hidden" });
    await intercom.and(page.locator('[data-state="revoked"]')).waitFor();
    expect(await intercom.getByRole("button").count()).toBe(0);
    await expectNoErrors(page);

    // At once: the next open is refused before any partner request.
    clearRecorders(stack);
    const refused = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(refused.cause).toBe("CONSENT_REQUIRED");
    expect(stack.sims.intercom.recorder.count({ operation: "intercom.open" })).toBe(0);
    expect(stack.sims.intercom.recorder.opens()).toEqual([]);

    // The history: the admin's revoke with its reason, under the purpose.
    await page.getByText("History of opening doors").click();
    const history = page.locator('tr[data-history-of="intercom"] tr[data-action="revoke"]');
    expect(await history.textContent()).toContain("written request from the resident");
    expect(await history.textContent()).toContain("dev-operator");
    await screenshot(page, "admin-resident");

    // The audit screen, filtered to the resident: the revoke and the refused attempt.
    await page.getByRole("link", { name: "Audit trail of this resident" }).click();
    await page.waitForURL(/#\/audit\?userId=resident-screens-revoke$/);
    const revokeRow = page.locator('#audit tr[data-kind="consent.revoke"]');
    await revokeRow.first().waitFor();
    expect(await page.locator("#screen-audit").getByLabel("User id").inputValue()).toBe(
      resident.userId,
    );
    const revokeText = await revokeRow.first().textContent();
    expect(revokeText).toContain("dev-operator");
    expect(revokeText).toContain("written request from the resident, ticket 4711");
    expect(revokeText).toContain("intercom");
    const deniedRow = page.locator('#audit tr[data-kind="access.denied"]');
    expect(await deniedRow.count()).toBe(1);
    const deniedText = await deniedRow.textContent();
    expect(deniedText).toContain("CONSENT_REQUIRED");
    expect(deniedText).toContain("intercom.open");
    expect(deniedText).toContain("door-a1");
    // Newest first: the refused attempt came after the revoke.
    const kinds = await page
      .locator("#audit tbody tr")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-kind")));
    expect(kinds.indexOf("access.denied")).toBeLessThan(kinds.indexOf("consent.revoke"));
    await expectNoErrors(page);
    await page.setViewportSize({ width: 1600, height: 760 }); // docs/images/admin-audit.png
    await screenshot(page, "admin-audit-resident");
    await page.close();
  });

  test("an operator ends a live video session, retries a pending erasure and revokes all", async () => {
    const { resident, sessionId } = await residentWithEverything("resident-screens-all");
    const page = await open(operator, `resident?userId=${resident.userId}`);
    const live = page.locator(`#resident-videos tr[data-session="${sessionId}"]`);
    await live.and(page.locator('[data-state="live"]')).waitFor();

    await live.getByRole("button", { name: `End video session ${sessionId}` }).click();
    await page.getByLabel(/Reason/).fill("camera abuse report");
    await page.getByRole("button", { name: "Confirm end" }).click();
    // Queued (ending) at once, then gone from the live list once the partner confirms.
    await page
      .locator(`#resident-videos tr[data-session="${sessionId}"][data-state="live"]`)
      .waitFor({
        state: "detached",
      });

    const pending = page.locator('#resident-erasures tr[data-status="pending"]');
    await pending.first().waitFor();
    const erasureId = await pending.first().getAttribute("data-erasure");
    await pending
      .first()
      .getByRole("button", { name: `Retry erasure ${erasureId}` })
      .click();
    await page.getByLabel(/Reason/).fill("partner fixed their side");
    await page.getByRole("button", { name: "Confirm retry" }).click();
    await page.getByRole("dialog").waitFor({ state: "hidden" });
    await expectNoErrors(page);

    await page.getByRole("button", { name: "Revoke all" }).click();
    await page.getByLabel(/Reason/).fill("account closed, written request");
    await page.getByRole("button", { name: "Confirm revoke all" }).click();
    await page.getByRole("dialog").waitFor({ state: "hidden" });
    await page.locator('#consents tr[data-state="granted"]').first().waitFor({ state: "detached" });
    expect(
      await page
        .locator("#consents tr[data-purpose]")
        .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-state"))),
    ).toEqual(PURPOSES.map(() => "revoked"));
    expect(await page.getByRole("button", { name: "Revoke all" }).isHidden()).toBe(true);

    // Every action is on the trail with the admin and the reason.
    await page.goto(`${stack.admin.url}/#/audit?userId=${resident.userId}`);
    for (const [kind, reason] of [
      ["admin.video_sessions.end", "camera abuse report"],
      ["admin.erasures.retry", "partner fixed their side"],
      ["consent.revoke", "account closed, written request"],
    ] as const) {
      const row = page.locator(`#audit tr[data-kind="${kind}"]`, { hasText: reason });
      await row.first().waitFor();
      expect(await row.first().textContent()).toContain("dev-operator");
    }
    await page.close();
  });

  test("shows a resident's guest keys without codes; an operator revokes one with a reason", async () => {
    const resident = await stack.resident("resident-screens-keys");
    await grant(resident, ["guests"]);
    const validUntil = new Date(Date.now() + 2 * 3_600_000).toISOString();
    const courier = await resident.trpc.keys.create.mutate({
      deviceIds: ["door-a1", "door-a2"],
      validUntil,
      label: "Courier",
    });
    const cleaner = await resident.trpc.keys.create.mutate({
      deviceIds: ["door-a1"],
      validUntil,
      label: "Cleaner",
    });
    const page = await open(operator, `resident?userId=${resident.userId}`);
    const row = (keyId: string) => page.locator(`#resident-keys tr[data-key="${keyId}"]`);
    await row(courier.keyId).and(page.locator('[data-state="active"]')).waitFor();
    expect(await row(courier.keyId).textContent()).toContain("Courier");
    expect(await row(courier.keyId).textContent()).toContain("door-a1, door-a2");
    expect(await row(cleaner.keyId).textContent()).toContain("Cleaner");
    const keysText = (await page.locator("#resident-keys").textContent()) ?? "";
    expect(keysText).not.toContain(courier.code);
    expect(keysText).not.toContain(cleaner.code);

    await row(courier.keyId)
      .getByRole("button", { name: `Revoke guest key ${courier.keyId}` })
      .click();
    await page.getByLabel(/Reason/).fill("lost phone, resident called");
    await page.getByRole("button", { name: "Confirm revoke" }).click();
    await page.getByRole("dialog").waitFor({ state: "hidden" });
    // Ending (or ended and gone, once the end queue confirmed it at the partner).
    await page
      .locator(`#resident-keys tr[data-key="${courier.keyId}"][data-state="active"]`)
      .waitFor({ state: "detached" });
    await expectNoErrors(page);
    expect(await row(cleaner.keyId).getAttribute("data-state")).toBe("active");
    const listed = await resident.trpc.keys.list.query();
    expect(listed.map((key) => key.keyId)).toEqual([cleaner.keyId]);

    await page.goto(`${stack.admin.url}/#/audit?userId=${resident.userId}`);
    const audited = page.locator('#audit tr[data-kind="admin.keys.revoke"]', {
      hasText: "lost phone, resident called",
    });
    await audited.first().waitFor();
    expect(await audited.first().textContent()).toContain("dev-operator");
    // The filters offer the key operations and the admin's revoke (from the vocabulary).
    const options = (id: string) =>
      page.locator(`#${id} option`).evaluateAll((all) => all.map((o) => o.getAttribute("value")));
    expect(await options("audit-operation")).toEqual(
      expect.arrayContaining(["keys.create", "keys.list", "keys.delete"]),
    );
    expect(await options("audit-kind")).toContain("admin.keys.revoke");
    await page.close();
  });

  test("an error shows the api's code, message and request id, never a stack", async () => {
    const page = await open(operator, "resident");
    await page.getByLabel("Resident user id").fill("not a valid id!");
    await page.getByRole("button", { name: "Look up" }).click();
    const error = page.locator("#screen-resident .error");
    await error.waitFor();
    expect(await error.getAttribute("data-code")).toBe("INVALID_INPUT");
    const text = (await error.textContent()) ?? "";
    expect(text).toContain("invalid input");
    expect(text).toMatch(/request id req_[0-9a-z]{10,}/);
    expect(text).toContain("userId: must be an opaque user id");
    expect(text).not.toMatch(/at .+\.ts:\d+/);
    await page.close();
  });
});

describe.skipIf(!available)("a resident's journal", () => {
  test("shows the journal consent and the entries newest first, older ones a page further, gone on revoke", async () => {
    const resident = await stack.resident("resident-screens-journal");
    await grant(resident, ["intercom", "journal"]);
    // Fifty missed or answered calls over the last hour, then the resident's own open: 51 entries,
    // one more than a page.
    const start = Date.now() - 60 * 60_000;
    for (let i = 0; i < 50; i++) {
      await stack.database.db.transaction((tx) =>
        appendJournal(
          tx,
          {
            kind: "call.ended",
            deviceId: "panel-1",
            cameraId: "cam-a1",
            outcome: i === 0 ? "answered" : "missed",
            durationSeconds: i === 0 ? 95 : 20,
            occurredAt: new Date(start + i * 60_000),
            sourceEventId: `evt-screens-${i}`,
          },
          [resident.userId],
          { outbox: false },
        ),
      );
    }
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });

    const page = await open(viewer, `resident?userId=${resident.userId}`);
    const consent = page.locator('#journal-consent[data-state="granted"]');
    await consent.waitFor();
    expect(await consent.textContent()).toContain("Journal consent granted (notice version 1)");
    const rows = page.locator("#resident-journal tbody tr[data-entry]");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(50);
    // Newest first: the resident's own open through the app, at door-a1.
    expect(
      await rows
        .first()
        .locator("td")
        .evaluateAll((cells) =>
          // A code shown with its explanation counts as the code.
          cells
            .slice(1)
            .map(
              (cell) =>
                cell.querySelector<HTMLElement>("[data-code]")?.dataset.code ?? cell.textContent,
            ),
        ),
    ).toEqual(["access.granted", "door-a1", "app", "—", "—"]);
    expect(
      await rows
        .nth(1)
        .locator("td")
        .evaluateAll((cells) =>
          // A code shown with its explanation counts as the code.
          cells
            .slice(1)
            .map(
              (cell) =>
                cell.querySelector<HTMLElement>("[data-code]")?.dataset.code ?? cell.textContent,
            ),
        ),
    ).toEqual(["call.ended", "panel-1", "—", "missed", "20 s"]);
    // The time in the admin's zone, the instant in `datetime`.
    const newest = rows.nth(1).locator("time");
    expect(await newest.getAttribute("datetime")).toBe(new Date(start + 49 * 60_000).toISOString());
    expect(await newest.textContent()).toBe(
      new Intl.DateTimeFormat("en-GB", {
        dateStyle: "medium",
        timeStyle: "medium",
        timeZone: TIME_ZONE,
      }).format(new Date(start + 49 * 60_000)),
    );
    const answered = page.locator('#resident-journal tr[data-kind="call.ended"]', {
      hasText: "answered",
    });
    expect(await answered.count()).toBe(0);

    // One page further: the oldest entry, the answered call; then no more pages.
    await page.getByRole("button", { name: "Older entries" }).click();
    await answered.waitFor();
    expect(await answered.textContent()).toContain("1 min 35 s");
    expect(await rows.count()).toBe(51);
    expect(await page.getByRole("button", { name: "Older entries" }).isHidden()).toBe(true);
    await expectNoErrors(page);
    await screenshot(page, "admin-resident-journal");
    // The resident's messages in the webhook outbox, one click away.
    await page.getByRole("link", { name: "Webhook messages of this resident" }).click();
    await page.waitForURL(/#\/webhooks\?userId=resident-screens-journal$/);
    // The summary is written by the load that the screen's filter started,
    // so once it shows, the filter holds the resident (the hashchange that
    // fills it may run after the URL has changed).
    await page.locator("#webhooks-summary", { hasText: "pending" }).waitFor();
    expect(await page.locator("#screen-webhooks").getByLabel("User id").inputValue()).toBe(
      resident.userId,
    );
    await expectNoErrors(page);
    await page.close();

    // An operator revokes journal: the section says so and the entries are gone.
    const operatorPage = await open(operator, `resident?userId=${resident.userId}`);
    await operatorPage.locator("#resident-journal tbody tr[data-entry]").first().waitFor();
    await operatorPage.getByRole("button", { name: "Revoke journal" }).click();
    await operatorPage.getByLabel(/Reason/).fill("the resident asked by letter");
    await operatorPage.getByRole("button", { name: "Confirm revoke" }).click();
    await operatorPage.locator('#journal-consent[data-state="revoked"]').waitFor();
    expect(await operatorPage.locator("#journal-consent").textContent()).toContain(
      "nothing is kept",
    );
    expect(await operatorPage.locator("#resident-journal tbody").textContent()).toBe(
      "No journal entries.",
    );
    expect(await operatorPage.getByRole("button", { name: "Older entries" }).isHidden()).toBe(true);
    await expectNoErrors(operatorPage);
    await operatorPage.close();
  });
});

describe.skipIf(!available)("a viewer", () => {
  test("sees the same data as an operator but no revoke, retry, end or lift buttons", async () => {
    const { resident, sessionId } = await residentWithEverything("resident-screens-viewed");
    const { block } = await blockedResident("resident-screens-viewer-prober");
    const actions = /^(Revoke|Retry|End|Lift)/;

    // The operator, on the same data, has every button.
    const operatorPage = await open(operator, `resident?userId=${resident.userId}`);
    await operatorPage.locator(`#resident-videos tr[data-session="${sessionId}"]`).waitFor();
    await operatorPage.locator('#resident-erasures tr[data-status="pending"]').first().waitFor();
    expect(await operatorPage.getByRole("button", { name: actions }).count()).toBeGreaterThan(4);
    await operatorPage.close();

    const page = await open(viewer, `resident?userId=${resident.userId}`);
    expect(await page.locator("#signed-in").getAttribute("data-role")).toBe("viewer");
    await page.locator(`#resident-videos tr[data-session="${sessionId}"]`).waitFor();
    await page.locator('#resident-erasures tr[data-status="pending"]').first().waitFor();
    await page.locator('#consents tr[data-state="granted"]').first().waitFor();
    expect(await page.getByRole("button", { name: actions }).count()).toBe(0);
    expect(await page.locator("#consents button, #resident-erasures button").count()).toBe(0);
    await screenshot(page, "admin-resident-viewer");

    await page.goto(`${stack.admin.url}/#/watch`);
    await page.locator(`#blocks tr[data-block="${block.id}"]`).waitFor();
    expect(await page.getByRole("button", { name: actions }).count()).toBe(0);
    await page.goto(`${stack.admin.url}/#/erasures`);
    await page.locator('#erasures tr[data-status="pending"]').first().waitFor();
    expect(await page.getByRole("button", { name: actions }).count()).toBe(0);
    await expectNoErrors(page);
    await page.close();
  });
});

describe.skipIf(!available)("anomalies and blocks", () => {
  test("a block placed by the watch rules is shown with its anomaly and lifted from the screen", async () => {
    const { prober, block } = await blockedResident("resident-screens-prober");
    expect(
      (await errorOf(prober.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }))).cause,
    ).toBe("BLOCKED");

    const page = await open(operator, "watch");
    const row = page.locator(`#blocks tr[data-block="${block.id}"]`);
    await row.and(page.locator('[data-state="in force"]')).waitFor();
    const text = (await row.textContent()) ?? "";
    expect(text).toContain("resident-screens-prober");
    expect(text).toContain("enumeration");
    const anomaly = page.locator("#anomalies tr", { hasText: block.id });
    expect(await anomaly.first().textContent()).toContain("resident-screens-prober");
    await screenshot(page, "admin-watch");

    await row.getByRole("button", { name: `Lift block ${block.id}` }).click();
    await page.getByLabel(/Reason/).fill("resident confirmed by phone, mistyped ids");
    await page.getByRole("button", { name: "Confirm lift" }).click();
    await page.getByRole("dialog").waitFor({ state: "hidden" });
    await row.waitFor({ state: "detached" }); // only blocks in force are listed
    await page.getByLabel("Only blocks in force").uncheck();
    await page.locator("#screen-watch").getByRole("button", { name: "Load" }).click();
    const lifted = page.locator(`#blocks tr[data-block="${block.id}"][data-state="lifted"]`);
    await lifted.waitFor();
    expect(await lifted.textContent()).toContain("resident confirmed by phone, mistyped ids");
    expect(await lifted.textContent()).toContain("dev-operator");
    await expectNoErrors(page);

    // Lifted at once: refused for the device again, no longer for the block.
    expect(
      (await errorOf(prober.trpc.intercom.openDoor.mutate({ deviceId: "door-probe0" }))).cause,
    ).not.toBe("BLOCKED");
    await page.close();
  });
});

describe.skipIf(!available)("partner health", () => {
  test("a partner turns red when its health check fails and green after, from the probe's history", async () => {
    const partners = Object.fromEntries(
      Object.entries(stack.env).filter(([name]) => name.startsWith("PARTNER_")),
    );
    const probe = await startHealthProbe(
      loadProbeEnv({
        PROPGATE_ENV: "development",
        HOST: "127.0.0.1",
        PORT: "0",
        DATA_DIR: "/nonexistent-not-used",
        LOG_LEVEL: "silent",
        // Rounds are driven by the test; the timer's first one runs at start.
        PROBE_INTERVAL_MS: "3600000",
        PROBE_TIMEOUT_MS: "2000",
        PROBE_FAILURES_TO_ALERT: "2",
        ...partners,
      }),
      { database: stack.database, vpn: false },
    );
    const sim = stack.sims.intercom;
    try {
      await probe.loop.round();
      const page = await open(operator, "partners");
      const intercom = page.locator('article.partner[data-partner="intercom"]');
      await intercom.and(page.locator('[data-state="ok"]')).waitFor();
      await page.locator('article.partner[data-partner="barrier"][data-state="ok"]').waitFor();

      sim.faults.set({ errorRate: 1, errorStatus: 503 });
      await probe.loop.round();
      await probe.loop.round(); // the second failure in a row: the alert fires
      await page.getByRole("button", { name: "Refresh" }).click();
      await intercom.and(page.locator('[data-state="firing"]')).waitFor();
      const health = intercom.locator('tr[data-check="health"]');
      expect(await health.getAttribute("data-state")).toBe("firing");
      expect(await health.textContent()).toContain("answered 503");
      expect(await intercom.locator('tr[data-check="token"]').getAttribute("data-state")).toBe(
        "ok",
      );
      // Red: the partner's border and badge take the failing colour.
      const colour = await intercom
        .locator(".badge")
        .evaluate((badge) => getComputedStyle(badge).backgroundColor);
      expect(colour).toBe("rgb(253, 232, 232)");
      expect(
        await page.locator('article.partner[data-partner="barrier"]').getAttribute("data-state"),
      ).toBe("ok");
      await screenshot(page, "admin-partners-red");

      sim.faults.set({ errorRate: 0 });
      await probe.loop.round();
      await page.getByRole("button", { name: "Refresh" }).click();
      await intercom.and(page.locator('[data-state="ok"]')).waitFor();
      const changes = await page
        .locator('#partner-transitions tr[data-partner="intercom"]')
        .allTextContents();
      expect(changes.some((change) => change.includes("ok → failing"))).toBe(true);
      expect(changes.some((change) => change.includes("failing → failing, alert sent"))).toBe(true);
      expect(changes.some((change) => change.includes("failing, alert sent → ok"))).toBe(true);
      await expectNoErrors(page);
      await screenshot(page, "admin-partners");
      await page.close();
    } finally {
      sim.faults.set({ errorRate: 0 });
      await probe.stop();
    }
  });
});

describe.skipIf(!available)("VPN connections and devices", () => {
  test("VPN connects and disconnects per peer", async () => {
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    const peer = (fingerprint: string, kind: "connected" | "disconnected", minutesAgo: number) =>
      recordVpnEvent(stack.database.db, {
        iface: "wg0",
        peerFingerprint: fingerprint,
        endpointIp: "198.51.100.7",
        kind,
        at: at(minutesAgo),
        rxBytes: kind === "disconnected" ? 1_234_567 : 0,
        txBytes: kind === "disconnected" ? 89_000 : 0,
      });
    // In the order the probe would record them.
    await peer("0f1e2d3c4b5a6978", "connected", 50);
    await peer("a1b2c3d4e5f60718", "connected", 30);
    await peer("a1b2c3d4e5f60718", "disconnected", 20);
    await peer("a1b2c3d4e5f60718", "connected", 10);
    await peer("0f1e2d3c4b5a6978", "disconnected", 5);

    const page = await open(operator, "vpn");
    const first = page.locator('#vpn-peers tr[data-peer="a1b2c3d4e5f60718"]');
    await first.waitFor();
    expect(await first.getAttribute("data-state")).toBe("connected");
    expect(
      await page.locator('#vpn-peers tr[data-peer="0f1e2d3c4b5a6978"]').getAttribute("data-state"),
    ).toBe("disconnected");
    expect(await page.locator('#vpn-events tr[data-peer="a1b2c3d4e5f60718"]').count()).toBe(3);
    expect(await page.locator("#vpn-events tbody").textContent()).toContain("1.2 MB");
    await screenshot(page, "admin-vpn");

    await first.getByRole("link", { name: "a1b2c3d4e5f60718" }).click();
    await page.waitForURL(/#\/vpn\?peer=a1b2c3d4e5f60718$/);
    await page.locator('#vpn-events tr[data-peer="0f1e2d3c4b5a6978"]').first().waitFor({
      state: "detached",
    });
    expect(await page.locator("#vpn-events tbody tr").count()).toBe(3);
    await expectNoErrors(page);
    await page.close();
  });

  test("the devices, narrowed as the admin types", async () => {
    const page = await open(operator, "devices");
    const screen = page.locator("#screen-devices");
    await page.locator('#devices tr[data-device="door-a1"]').waitFor();
    expect(await page.locator("#devices thead th").allTextContents()).toEqual([
      "Device",
      "Kind",
      "Site",
      "Partner",
      "Partner's id",
      "Name",
      "Updated",
    ]);
    const all = await page.locator("#devices tbody tr").count();
    await screen.getByLabel("Kind").selectOption("camera");
    const cameras = await page
      .locator("#devices tbody tr")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-kind")));
    expect(cameras.length).toBeGreaterThan(0);
    expect(cameras.length).toBeLessThan(all);
    expect(new Set(cameras)).toEqual(new Set(["camera"]));
    await screen.getByLabel("Kind").selectOption("");
    await screen.getByLabel("Id, site or name contains").fill("door-a1");
    await page.locator('#devices tr[data-device="door-a2"]').waitFor({ state: "detached" });
    expect(await page.locator("#devices-count").textContent()).toMatch(/^1 of \d+ devices$/);
    await screen.getByLabel("Id, site or name contains").fill("");
    await screenshot(page, "admin-devices");
    await expectNoErrors(page);

    await page.goto(`${stack.admin.url}/#/erasures`);
    await page.locator("#erasures tbody tr").first().waitFor();
    await screenshot(page, "admin-erasures");
    await page.close();
  });
});
