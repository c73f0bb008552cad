import { confirmUnits, type Database } from "@propgate/consent-audit";
import { distinctSorted } from "@propgate/domain";

/** Keeps the residents' unit memberships as their tokens name them (`unit_residents`). */
export interface UnitConfirmer {
  /** Writes the resident's units at most once per `rememberForMs` per instance for the same list. */
  confirm(owner: { userId: string; units: readonly string[] }): Promise<void>;
}

/** Built once per api instance; the memory only saves writes, the table is the truth. */
export function createUnitConfirmer(
  db: Database,
  options: { rememberForMs?: number; maxEntries?: number } = {},
): UnitConfirmer {
  const rememberForMs = options.rememberForMs ?? 5 * 60_000;
  const maxEntries = options.maxEntries ?? 50_000;
  const written = new Map<string, number>();
  return {
    async confirm(owner) {
      const units = distinctSorted(owner.units);
      const key = `${owner.userId}\u0000${units.join(",")}`;
      const now = Date.now();
      if ((written.get(key) ?? 0) > now - rememberForMs) return;
      await confirmUnits(db, owner.userId, units);
      if (written.size > maxEntries) written.clear();
      written.set(key, now);
    },
  };
}
