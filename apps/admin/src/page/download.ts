import { h } from "./elements.ts";

/**
 * Saves `text` as a file named `name` (the operator exports: audit CSV, destruction records).
 * A Blob URL of this document, opened by an anchor with `download`: no navigation, so the CSP
 * needs nothing beyond 'self' (checked in Chromium by the admin browser tests).
 */
export function downloadFile(text: string, name: string, type: "text/csv" | "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const anchor = h("a", { href: url, download: name, hidden: true });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
