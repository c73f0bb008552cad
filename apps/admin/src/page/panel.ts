import { describeError, type ShownError } from "./api.ts";
import { h } from "./elements.ts";

/**
 * A screen's loading and error states: a status line ("Loading the audit trail…") and an error
 * box with the api's code, message and request id. Made once per screen, under its heading.
 */
export interface Panel {
  /** Runs one load or action; shows progress, then the error if it failed. False when it failed. */
  run(label: string, action: () => Promise<void>): Promise<boolean>;
}

/** Fills an error box: code, message, request id, and which inputs were refused. */
export function showError(box: HTMLElement, error: unknown) {
  const shown: ShownError = describeError(error);
  box.replaceChildren(h("strong", { class: "code" }, shown.code), " ", shown.message);
  if (shown.requestId)
    box.append(
      h("span", { class: "request-id" }, " · request id ", h("code", {}, shown.requestId)),
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

export function createPanel(section: HTMLElement, before: () => Promise<unknown>): Panel {
  const status = h("p", { class: "status", "aria-live": "polite" });
  const error = h("div", { class: "error", role: "alert", hidden: true });
  section.querySelector("h2")?.after(status, error);
  let running = 0;
  return {
    async run(label, action) {
      clearError(error);
      running += 1;
      status.textContent = `${label}…`;
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
