import type { Message } from "./catalogue.ts";
import type { CodeGroup } from "./codes.ts";
import { en } from "./en.ts";
import { ru } from "./ru.ts";

/**
 * The admin page's language: Russian unless the admin chose English (the header's switch,
 * remembered in localStorage). Chosen once per page load — a switch stores the choice and
 * reloads, so every screen, date and number comes out in one language. Static labels carry
 * `data-i18n` (text), `data-i18n-aria-label` (an accessible name); code calls `t(key, params)`.
 */

export const LANGUAGES = {
  ru: { catalogue: ru, locale: "ru-RU", name: "Русский" },
  en: { catalogue: en, locale: "en-GB", name: "English" },
} as const;
export type Language = keyof typeof LANGUAGES;
export type MessageKey = keyof typeof en;
export type Params = Record<string, string | number>;

export const DEFAULT_LANGUAGE: Language = "ru";
const STORAGE_KEY = "propgate-admin-language";

function stored(): Language {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === "en" || value === "ru" ? value : DEFAULT_LANGUAGE;
  } catch {
    return DEFAULT_LANGUAGE; // storage refused (a locked-down browser): the default
  }
}

/**
 * Mirrors the choice in a cookie: the pages the server makes itself (a sign-in's outcome, signed
 * out; apps/admin/src/notices.ts) run no script, so they read the language from it.
 */
function mirror(choice: Language): void {
  if (typeof document === "undefined") return;
  const secure = location.protocol === "https:" ? "; Secure" : "";
  // biome-ignore lint/suspicious/noDocumentCookie: a constant name and value; the Cookie Store API is not in every browser admins use.
  document.cookie = `${STORAGE_KEY}=${choice}; Path=/; Max-Age=31536000; SameSite=Strict${secure}`;
}

export const language: Language = stored();
mirror(language);
/** The BCP 47 locale of dates and numbers (`Intl`). */
export const locale: string = LANGUAGES[language].locale;
const catalogue: Readonly<Record<MessageKey, Message>> = LANGUAGES[language].catalogue;
const plurals = new Intl.PluralRules(locale);
const numbers = new Intl.NumberFormat(locale);

/** Stores the choice and shows the page again in it. */
export function chooseLanguage(next: Language): void {
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered; this page load still switches.
  }
  mirror(next);
  location.reload();
}

/** A whole number as the language writes it (`12 345` in Russian). */
export function formatNumber(value: number): string {
  return numbers.format(value);
}

/**
 * The message `key` with `{name}` filled from `params` (numbers formatted for the language);
 * a plural picks its form by `params.count`.
 */
export function t(key: MessageKey, params: Params = {}): string {
  const message = catalogue[key];
  const text =
    typeof message === "string"
      ? message
      : (message[plurals.select(Number(params.count ?? 0))] ?? message.other);
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? formatNumber(value) : value;
  });
}

/** The explanation of a code of `group` (`kind`, `result`, `cause` …), or null for one we do not know. */
export function explanation(group: CodeGroup, code: string): string | null {
  const key = `${group}.${code}`;
  return key in catalogue ? t(key as MessageKey) : null;
}

/** Fills the static labels under `root` and marks the page's language. */
export function translatePage(root: Document): void {
  root.documentElement.lang = language;
  for (const node of root.querySelectorAll<HTMLElement>("[data-i18n]"))
    node.textContent = t(node.dataset.i18n as MessageKey);
  for (const node of root.querySelectorAll<HTMLElement>("[data-i18n-aria-label]"))
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel as MessageKey));
}
