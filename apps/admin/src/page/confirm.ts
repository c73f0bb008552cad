import { byId } from "./elements.ts";
import { clearError, showError } from "./panel.ts";

/**
 * The confirmation step of every action (revoke, lift, retry, end): a modal dialog saying what
 * will happen, asking for the reason the api requires; nothing is sent until it is confirmed.
 * Escape or Cancel closes it; an error from the api stays in the dialog.
 */

export interface ConfirmOptions {
  title: string;
  detail: string;
  /** The confirming button's text, e.g. "Confirm revoke". */
  confirm: string;
  /** Sends the action with the reason; the dialog closes when it resolves. */
  action: (reason: string) => Promise<void>;
}

const dialog = byId("confirm", HTMLDialogElement);
const form = byId("confirm-form", HTMLFormElement);
const title = byId("confirm-title", HTMLHeadingElement);
const detail = byId("confirm-detail", HTMLParagraphElement);
const reason = byId("confirm-reason", HTMLInputElement);
const error = byId("confirm-error", HTMLDivElement);
const submit = byId("confirm-submit", HTMLButtonElement);
const cancel = byId("confirm-cancel", HTMLButtonElement);

let pending: ConfirmOptions | null = null;

export function confirmAction(options: ConfirmOptions) {
  pending = options;
  title.textContent = options.title;
  detail.textContent = options.detail;
  submit.textContent = options.confirm;
  submit.disabled = false;
  reason.value = "";
  clearError(error);
  dialog.showModal();
  reason.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const options = pending;
  if (!options) return;
  clearError(error);
  submit.disabled = true;
  options.action(reason.value.trim()).then(
    () => {
      pending = null;
      dialog.close();
    },
    (failure: unknown) => {
      submit.disabled = false;
      showError(error, failure);
    },
  );
});
cancel.addEventListener("click", () => {
  if (!submit.disabled) dialog.close();
});
// Not while the action is on its way: its outcome (or error) is shown here.
dialog.addEventListener("cancel", (event) => {
  if (submit.disabled) event.preventDefault();
});
dialog.addEventListener("close", () => {
  pending = null;
});
