import { h } from "./elements.ts";
import { locale, t } from "./i18n/i18n.ts";

/**
 * Times in the admin's time zone (the browser's) and language, with the instant itself (UTC) in `datetime`
 * and the tooltip. The api speaks ISO-8601 UTC throughout.
 */

export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

const FORMAT = new Intl.DateTimeFormat(locale, {
  dateStyle: "medium",
  timeStyle: "medium",
  timeZone: TIME_ZONE,
});

export function formatTime(iso: string): string {
  return FORMAT.format(new Date(iso));
}

/** A `<time>` for an ISO instant, or null (shown as a dash) when there is none. */
export function timeElement(iso: string | null | undefined): HTMLTimeElement | null {
  if (!iso) return null;
  return h("time", { datetime: iso, title: `${iso} (UTC)` }, formatTime(iso));
}

/** A `datetime-local` input's value (the admin's wall clock) as an ISO instant, or undefined. */
export function fromLocalInput(value: string): string | undefined {
  if (value === "") return undefined;
  const instant = new Date(value); // no offset in the value: read in the browser's zone
  if (Number.isNaN(instant.getTime())) throw new Error(t("app.notADateTime", { value }));
  return instant.toISOString();
}

/** An ISO instant as a `datetime-local` value in the admin's zone (minutes). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const instant = new Date(iso);
  if (Number.isNaN(instant.getTime())) return "";
  const local = new Date(instant.getTime() - instant.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** Seconds as a short duration (90 → "1 min 30 s", «1 мин 30 с»). */
export function duration(seconds: number): string {
  const s = (n: number) => t("unit.s", { n });
  const min = (n: number) => t("unit.min", { n });
  if (seconds < 60) return s(seconds);
  if (seconds < 3600) {
    const rest = seconds % 60;
    return `${min(Math.floor(seconds / 60))}${rest ? ` ${s(rest)}` : ""}`;
  }
  const minutes = Math.floor((seconds % 3600) / 60);
  return `${t("unit.h", { n: Math.floor(seconds / 3600) })}${minutes ? ` ${min(minutes)}` : ""}`;
}
