import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Message } from "../src/page/i18n/catalogue.ts";
import { CODE_GROUPS } from "../src/page/i18n/codes.ts";
import { en } from "../src/page/i18n/en.ts";
import { ru } from "../src/page/i18n/ru.ts";

/**
 * The admin page's catalogues: the same keys in both languages (none missing, none extra), the
 * same parameters, every plural form each language needs, an explanation for every code of the
 * vocabulary, and every key the page's code and HTML use present.
 */

const PAGE = join(import.meta.dir, "../src/page");
const CATALOGUES: Record<string, Readonly<Record<string, Message>>> = { en, ru };
const PLURAL_FORMS = { en: ["one", "other"], ru: ["one", "few", "many", "other"] } as const;

const params = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const forms = (message: Message) =>
  typeof message === "string" ? [message] : Object.values(message);

/** The page's TypeScript files (not the catalogues themselves). */
function pageSources(): { file: string; text: string }[] {
  const files: string[] = [];
  for (const entry of readdirSync(PAGE, { recursive: true, withFileTypes: true }))
    if (entry.isFile() && entry.name.endsWith(".ts"))
      files.push(join(entry.parentPath, entry.name));
  return files
    .filter((file) => !file.includes("/i18n/"))
    .map((file) => ({ file, text: readFileSync(file, "utf8") }));
}

describe("the message catalogues", () => {
  test("ru has exactly en's keys, each a string or a plural as in en", () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
    for (const [key, message] of Object.entries(en))
      expect({ key, plural: typeof ru[key as keyof typeof ru] !== "string" }).toEqual({
        key,
        plural: typeof message !== "string",
      });
  });

  test("every message of a key has the same parameters in both languages", () => {
    for (const [key, message] of Object.entries(en)) {
      const expected = params(forms(message)[0] ?? "");
      for (const [language, catalogue] of Object.entries(CATALOGUES))
        for (const text of forms(catalogue[key] ?? ""))
          expect({ language, key, params: params(text) }).toEqual({
            language,
            key,
            params: expected,
          });
    }
  });

  test("plurals have the forms Intl.PluralRules picks in each language, and no others", () => {
    for (const [language, needed] of Object.entries(PLURAL_FORMS)) {
      const rules = new Intl.PluralRules(language).resolvedOptions().pluralCategories;
      expect<string[]>([...needed].sort()).toEqual([...rules].sort());
      for (const [key, message] of Object.entries(CATALOGUES[language] ?? {}))
        if (typeof message !== "string")
          expect({ key, forms: Object.keys(message).sort() }).toEqual({
            key,
            forms: [...needed].sort(),
          });
    }
  });

  test("no message is empty, and Russian messages are Russian (Cyrillic) unless a code", () => {
    for (const [language, catalogue] of Object.entries(CATALOGUES))
      for (const [key, message] of Object.entries(catalogue))
        for (const text of forms(message))
          expect({ language, key, empty: text.trim() === "" }).toEqual({
            language,
            key,
            empty: false,
          });
    // A word of English left in the Russian catalogue: any message with Latin words and no Cyrillic.
    const untranslated = Object.entries(ru)
      .filter(([, message]) =>
        forms(message).some(
          (text) => /[A-Za-z]{3}/.test(text.replace(/\{\w+\}/g, "")) && !/[А-Яа-яЁё]/.test(text),
        ),
      )
      .map(([key]) => key);
    expect(untranslated).toEqual([]);
  });

  test("every code of the vocabulary has its explanation in both languages", () => {
    for (const [group, codes] of Object.entries(CODE_GROUPS))
      for (const code of codes)
        for (const [language, catalogue] of Object.entries(CATALOGUES))
          expect({
            language,
            key: `${group}.${code}`,
            has: `${group}.${code}` in catalogue,
          }).toEqual({
            language,
            key: `${group}.${code}`,
            has: true,
          });
  });
});

describe("the keys the page uses", () => {
  test("every data-i18n key of index.html is in the catalogues", () => {
    const html = readFileSync(join(PAGE, "index.html"), "utf8");
    const keys = [...html.matchAll(/data-i18n(?:-aria-label)?="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(keys.length).toBeGreaterThan(50);
    expect(keys.filter((key) => !(key in en))).toEqual([]);
  });

  test("index.html has no label left outside the catalogues", () => {
    const html = readFileSync(join(PAGE, "index.html"), "utf8");
    // Text between tags, outside <title>: only format names (CSV, JSON) and limits (50, 100 …).
    const texts = [...html.matchAll(/>([^<>]+)</g)]
      .map((m) => (m[1] ?? "").trim())
      .filter((text) => text !== "" && !/^(CSV|JSON|Propgate|\d+)$/.test(text));
    expect(texts).toEqual([]);
  });

  test("every key the page's code asks for (literal, or a templated key's prefix) is in the catalogues", () => {
    const literal: string[] = [];
    const prefixes: string[] = [];
    for (const { text } of pageSources()) {
      for (const m of text.matchAll(/\bt\(\s*"([^"]+)"/g)) literal.push(m[1] ?? "");
      for (const m of text.matchAll(/\bt\(\s*`([^`$]*)\$\{/g)) prefixes.push(m[1] ?? "");
    }
    expect(literal.length).toBeGreaterThan(100);
    expect(literal.filter((key) => !(key in en))).toEqual([]);
    const keys = Object.keys(en);
    expect(prefixes.filter((prefix) => !keys.some((key) => key.startsWith(prefix)))).toEqual([]);
  });
});
