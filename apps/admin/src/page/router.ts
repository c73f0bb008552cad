import { t } from "./i18n/i18n.ts";
/**
 * Hash routing between the screens: `#/<screen>?<params>`, e.g. `#/resident?userId=…` or
 * `#/audit?userId=…&kind=…`, so back, forward and a copied address work.
 */

export interface Screen {
  /** The hash name (`#/audit`). */
  name: string;
  section: HTMLElement;
  /** Called whenever the screen is navigated to, with the address's parameters. */
  show(params: URLSearchParams): void;
  /** Called when another screen is shown (stop timers). */
  hide?(): void;
}

export function parseHash(hash: string): { name: string; params: URLSearchParams } {
  const [path = "", query = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  return { name: path, params: new URLSearchParams(query) };
}

/** Goes to a screen; when the address is already that, shows it again (a repeated look-up). */
export function navigate(name: string, params: Record<string, string | undefined> = {}) {
  const kept = Object.entries(params).filter(
    (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "",
  );
  const query = new URLSearchParams(kept).toString();
  const hash = `#/${name}${query ? `?${query}` : ""}`;
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

export function startRouter(screens: Screen[], fallback: string) {
  let shown: Screen | null = null;
  const route = () => {
    const { name, params } = parseHash(location.hash);
    const screen = screens.find((candidate) => candidate.name === name);
    if (!screen) {
      history.replaceState(null, "", `#/${fallback}`);
      route();
      return;
    }
    if (shown && shown !== screen) {
      shown.hide?.();
      shown.section.hidden = true;
    }
    shown = screen;
    screen.section.hidden = false;
    for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a[data-nav]")) {
      if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${screen.section.querySelector("h2")?.textContent ?? name} · ${t("app.title")}`;
    screen.show(params);
  };
  window.addEventListener("hashchange", route);
  route();
}
