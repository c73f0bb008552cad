/**
 * The small pages the admin server makes itself (a sign-in's outcome, signed out), in the
 * language the admin page speaks: Russian unless the admin chose English there. The page keeps
 * that choice in localStorage and mirrors it in the `propgate-admin-language` cookie, which is
 * how these pages, made before any script runs, know it.
 */

export const LANGUAGE_COOKIE = "propgate-admin-language";

export type NoticeLanguage = "ru" | "en";

interface NoticeText {
  title: string;
  text: string;
  link: string;
}

/** Each notice in both languages; `{reason}` is the failure's short code (`signInFailure`). */
const NOTICES = {
  unavailable: {
    ru: {
      title: "Вход недоступен",
      text: "Поставщик удостоверений недоступен. Повторите попытку чуть позже.",
      link: "Повторить",
    },
    en: {
      title: "Sign-in unavailable",
      text: "The identity provider could not be reached. Try again in a moment.",
      link: "Try again",
    },
  },
  not_recognised: {
    ru: {
      title: "Вход не распознан",
      text: "Этот вход начат не в этом браузере, уже использован или занял слишком много времени.",
      link: "Войти снова",
    },
    en: {
      title: "Sign-in not recognised",
      text: "This sign-in was not started in this browser, was already used or took too long.",
      link: "Sign in again",
    },
  },
  failed: {
    ru: { title: "Вход не удался", text: "Вход не удался ({reason}).", link: "Войти снова" },
    en: { title: "Sign-in failed", text: "Sign-in failed ({reason}).", link: "Sign in again" },
  },
  signed_in: {
    ru: { title: "Вход выполнен", text: "Открываем страницу администратора…", link: "Продолжить" },
    en: { title: "Signed in", text: "Opening the admin page…", link: "Continue" },
  },
  signed_out: {
    ru: {
      title: "Вы вышли",
      text: "Вы вышли из приложения администратора Propgate.",
      link: "Войти снова",
    },
    en: {
      title: "Signed out",
      text: "You are signed out of the Propgate admin app.",
      link: "Sign in again",
    },
  },
} as const satisfies Record<string, Record<NoticeLanguage, NoticeText>>;

export type NoticeId = keyof typeof NOTICES;

/** The language of the cookie's value; Russian for anything else, as the page defaults. */
export function noticeLanguage(cookie: string | undefined): NoticeLanguage {
  return cookie === "en" ? "en" : "ru";
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char] ?? "",
  );

/**
 * A notice page: static text and one link, `data-notice` naming which (for tests and support,
 * the same in both languages); `head` adds to `<head>` (the signed-in page's refresh).
 */
export function noticePage(
  id: NoticeId,
  language: NoticeLanguage,
  href: string,
  options: { reason?: string; head?: string } = {},
): string {
  const words: NoticeText = NOTICES[id][language];
  const text = words.text.replace("{reason}", options.reason ?? "");
  const suffix = language === "ru" ? "администратор Propgate" : "Propgate admin";
  return `<!doctype html>
<html lang="${language}">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(words.title)} · ${suffix}</title>
    <link rel="stylesheet" href="/admin.css" />${options.head ?? ""}
  </head>
  <body>
    <main class="notice" data-notice="${id}">
      <h1>${escapeHtml(words.title)}</h1>
      <p>${escapeHtml(text)}</p>
      <p><a href="${escapeHtml(href)}">${escapeHtml(words.link)}</a></p>
    </main>
  </body>
</html>`;
}
