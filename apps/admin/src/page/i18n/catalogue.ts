/**
 * The shape of the admin page's message catalogues (`en.ts`, `ru.ts`): one flat object of
 * dotted keys. A value is a string with `{name}` placeholders, or a plural: one text per
 * `Intl.PluralRules` category of the language (`one`/`other` in English, `one`/`few`/`many`/
 * `other` in Russian), each with `{count}`. `en` is the reference: its keys are the type every
 * other catalogue must match, key for key (a test checks there is nothing more either).
 */

export type PluralForms = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
export type Message = string | PluralForms;

/** A catalogue with exactly the keys of `Reference`, each a string or plural as there. */
export type CatalogueOf<Reference> = {
  readonly [K in keyof Reference]: Reference[K] extends string ? string : PluralForms;
};

/**
 * `{ "consent.grant": "…" }` under `kind` as `{ "kind.consent.grant": "…" }`, keeping each key
 * in the type: the explanations of a vocabulary (a `Record<Code, string>`, so the compiler asks
 * for every code) join the catalogue under their group's prefix.
 */
export function prefixed<P extends string, T extends Record<string, string>>(
  prefix: P,
  table: T,
): { [K in keyof T & string as `${P}.${K}`]: string } {
  return Object.fromEntries(
    Object.entries(table).map(([key, value]) => [`${prefix}.${key}`, value]),
  ) as { [K in keyof T & string as `${P}.${K}`]: string };
}
