import { type Admin, signedInAdmin } from "./access.ts";
import { signOut } from "./api.ts";
import { createAuditScreen } from "./audit.ts";
import { createDevicesScreen } from "./devices.ts";
import { byId, h } from "./elements.ts";
import { createErasuresScreen } from "./erasures.ts";
import { showError } from "./panel.ts";
import { createPartnersScreen } from "./partners.ts";
import { createResidentScreen } from "./resident.ts";
import { startRouter } from "./router.ts";
import { TIME_ZONE } from "./time.ts";
import { createVpnScreen } from "./vpn.ts";
import { createWatchScreen } from "./watch.ts";

/**
 * The admin page: who is signed in, the navigation, and one screen per hash (`#/resident`,
 * `#/audit`, `#/watch`, `#/partners`, `#/vpn`, `#/devices`, `#/erasures`). Plain DOM code,
 * bundled by the app with Bun.build; every call goes through the app's proxy (api.ts).
 */

const signedIn = byId("signed-in", HTMLParagraphElement);
const pageError = byId("error", HTMLDivElement);

function showSignedIn({ userId, role }: Admin) {
  signedIn.replaceChildren(
    `Signed in as ${userId} `,
    h("span", { class: "role" }, role ?? "no admin role"),
  );
  signedIn.dataset.user = userId;
  signedIn.dataset.role = role ?? "";
}

byId("time-zone", HTMLParagraphElement).textContent = `Times in ${TIME_ZONE}`;

/** Screens wait for this before their first call (the CSRF token, the role for the buttons). */
const ready = signedInAdmin(showSignedIn);
ready.catch((error: unknown) => showError(pageError, error));

byId("logout", HTMLButtonElement).addEventListener("click", () => {
  signOut().catch((error: unknown) => showError(pageError, error));
});

startRouter(
  [
    createResidentScreen(ready),
    createAuditScreen(ready),
    createWatchScreen(ready),
    createPartnersScreen(ready),
    createVpnScreen(ready),
    createDevicesScreen(ready),
    createErasuresScreen(ready),
  ],
  "resident",
);
