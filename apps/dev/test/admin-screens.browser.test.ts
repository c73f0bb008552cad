import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { recordVpnEvent } from "@propgate/consent-audit";
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
import { chromiumAvailable, launchChromium, signIn } from "./admin-browser.ts";
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
    browser.newContext({
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
    const dialog = page.getByRole("dialog", { name: `Revoke intercom for ${resident.userId}` });
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
    await page.getByText("History of intercom").click();
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
    ).toEqual(["revoked", "revoked", "revoked", "revoked", "revoked"]);
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
      expect(changes.some((change) => change.includes("failing → firing"))).toBe(true);
      expect(changes.some((change) => change.includes("firing → ok"))).toBe(true);
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
