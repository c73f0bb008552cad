import { describeError, type ShownError } from "./api.ts";
import { h } from "./elements.ts";
import { explanation, t } from "./i18n/i18n.ts";

/**
 * A refusal the page made itself, worded for the admin in their language (a filter that cannot
 * be applied): shown as it is, with no code or request id — nothing was asked of the api.
 */
export class PlainMessage extends Error {
  constructor(
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

/**
 * A screen's loading and error states: a status line ("Loading the audit trail…") and an error
 * box with the api's code, message and request id. Made once per screen, under its heading.
 */
export interface Panel {
  /** Runs one load or action; shows progress, then the error if it failed. False when it failed. */
  run(label: string, action: () => Promise<void>): Promise<boolean>;
}

/**
 * Fills an error box: the code with its explanation in the admin's language, the api's own
 * message (English, kept for the request id's log line), the request id, and which inputs were
 * refused. A `PlainMessage` shows its words alone.
 */
export function showError(box: HTMLElement, error: unknown) {
  if (error instanceof PlainMessage) {
    box.replaceChildren(error.message);
    if (error.details.length > 0)
      box.append(h("ul", {}, ...error.details.map((detail) => h("li", {}, detail))));
    box.dataset.code = "PLAIN";
    box.hidden = false;
    return;
  }
  const shown: ShownError = describeError(error);
  const explained = explanation("cause", shown.code);
  box.replaceChildren(h("strong", { class: "code", translate: "no" }, shown.code), " ");
  if (explained) box.append(h("span", { class: "explain" }, explained), " · ");
  box.append(h("span", { class: "detail", lang: "en", translate: "no" }, shown.message));
  if (shown.requestId)
    box.append(
      h(
        "span",
        { class: "request-id" },
        ` · ${t("app.requestId")} `,
        h("code", { translate: "no" }, shown.requestId),
      ),
    );
  if (shown.issues.length > 0)
    box.append(h("ul", {}, ...shown.issues.map((issue) => h("li", {}, issue))));
  box.dataset.code = shown.code;
  box.hidden = false;
}

export function clearError(box: HTMLElement) {
  box.hidden = true;
  box.replaceChildren();
  delete box.dataset.code;
}

/** `section`: a screen (under its `h2`) or a part of one with its own `h3` (its own states). */
export function createPanel(section: HTMLElement, before: () => Promise<unknown>): Panel {
  const status = h("p", { class: "status", "aria-live": "polite" });
  const error = h("div", { class: "error", role: "alert", hidden: true });
  section.querySelector("h2, h3")?.after(status, error);
  let running = 0;
  return {
    async run(label, action) {
      clearError(error);
      running += 1;
      status.textContent = t("app.loading", { what: label });
      section.setAttribute("aria-busy", "true");
      try {
        await before();
        await action();
        return true;
      } catch (failure) {
        showError(error, failure);
        return false;
      } finally {
        running -= 1;
        if (running === 0) {
          status.textContent = "";
          section.removeAttribute("aria-busy");
        }
      }
    },
  };
}
