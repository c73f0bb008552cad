import { type Admin, signedInAdmin } from "./access.ts";
import { signOut } from "./api.ts";
import { createAuditScreen } from "./audit.ts";
import { createDevicesScreen } from "./devices.ts";
import { actorName, byId, h } from "./elements.ts";
import { createErasuresScreen } from "./erasures.ts";
import {
  chooseLanguage,
  LANGUAGES,
  type Language,
  language,
  t,
  translatePage,
} from "./i18n/i18n.ts";
import { createOverviewScreen } from "./overview.ts";
import { showError } from "./panel.ts";
import { createPartnersScreen } from "./partners.ts";
import { createResidentScreen } from "./resident.ts";
import { startRouter } from "./router.ts";
import { TIME_ZONE } from "./time.ts";
import { createVpnScreen } from "./vpn.ts";
import { createWatchScreen } from "./watch.ts";
import { createWebhooksScreen } from "./webhooks.ts";

/**
 * The admin page: who is signed in, the navigation, and one screen per hash (`#/resident`,
 * `#/audit`, `#/watch`, `#/overview`, `#/partners`, `#/vpn`, `#/devices`, `#/erasures`, `#/webhooks`). Plain DOM code,
 * bundled by the app with Bun.build; every call goes through the app's proxy (api.ts).
 */

translatePage(document);

const languages = byId("language", HTMLSelectElement);
for (const [code, { name }] of Object.entries(LANGUAGES))
  languages.append(h("option", { value: code, lang: code }, name));
languages.value = language;
languages.addEventListener("change", () => chooseLanguage(languages.value as Language));

const signedIn = byId("signed-in", HTMLParagraphElement);
const pageError = byId("error", HTMLDivElement);

function showSignedIn({ userId, role }: Admin) {
  signedIn.replaceChildren(
    `${t("app.signedIn", { name: "" })}`,
    h("span", { translate: "no" }, actorName(userId) ?? userId),
    " ",
    h("span", { class: "role" }, role ? t(`role.${role}`) : t("app.noRole")),
  );
  signedIn.dataset.user = userId;
  signedIn.dataset.role = role ?? "";
}

byId("time-zone", HTMLParagraphElement).textContent = t("app.timeZone", { zone: TIME_ZONE });

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
    createOverviewScreen(ready),
    createPartnersScreen(ready),
    createVpnScreen(ready),
    createDevicesScreen(ready),
    createErasuresScreen(ready),
    createWebhooksScreen(ready),
  ],
  "resident",
);
