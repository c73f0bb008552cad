import { distinctSorted, PARTNERS, type Partner, Subject } from "@propgate/domain";
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./database";
import { requestKeyEnds } from "./guest-keys";
import { partnerSubjects } from "./schema/partner-subjects";
import { parseInput } from "./validation";

/** A partner's subject pseudonym and the resident it stands for, with their sites when last seen. */
export interface PartnerSubject {
  partner: Partner;
  subject: string;
  userId: string;
  sites: string[];
  /**
   * ISO-8601 UTC of the last time a call of the resident confirmed these sites (their token
   * named them): written when the api sends the subject, refreshed by their other calls.
   */
  updatedAt: string;
}

const RememberSubjectInput = z.strictObject({
  partner: z.enum(PARTNERS),
  subject: Subject,
  userId: z.string().min(1).max(128),
  sites: z.array(z.string().min(1).max(128)).max(200),
});
export type RememberSubjectInput = z.input<typeof RememberSubjectInput>;

/**
 * Records (or refreshes) which resident a subject stands for at a partner, and the resident's
 * sites as of now: the sites are replaced, not merged, so a site taken away is forgotten on the
 * next call.
 */
export async function rememberSubject(db: Database, input: RememberSubjectInput): Promise<void> {
  const row = parseInput(RememberSubjectInput, input, "partner subject");
  const sites = [...new Set(row.sites)].sort();
  await db
    .insert(partnerSubjects)
    .values({ ...row, sites, updatedAt: sql`now()` })
    .onConflictDoUpdate({
      target: [partnerSubjects.partner, partnerSubjects.subject],
      set: { userId: row.userId, sites, updatedAt: sql`now()` },
    });
}

const ConfirmSitesInput = RememberSubjectInput.pick({ userId: true, sites: true });

/**
 * The resident's sites as their token names them now, for every partner the api sent them to:
 * the sites replaced and `updatedAt` moved to now. Returns the rows it touched (none when the
 * resident was never sent to a partner).
 */
export async function confirmSubjectSites(
  db: Database,
  input: z.input<typeof ConfirmSitesInput>,
): Promise<Array<{ partner: Partner; subject: string }>> {
  const row = parseInput(ConfirmSitesInput, input, "partner subject");
  const sites = [...new Set(row.sites)].sort();
  return db
    .update(partnerSubjects)
    .set({ sites, updatedAt: sql`now()` })
    .where(eq(partnerSubjects.userId, row.userId))
    .returning({ partner: partnerSubjects.partner, subject: partnerSubjects.subject });
}

/** The resident behind a partner's subject, or null when the api never sent it to that partner. */
export async function findSubject(
  db: Database,
  partner: Partner,
  subject: string,
): Promise<PartnerSubject | null> {
  const [row] = await db
    .select()
    .from(partnerSubjects)
    .where(and(eq(partnerSubjects.partner, partner), eq(partnerSubjects.subject, subject)))
    .limit(1);
  return row ? { ...row, updatedAt: row.updatedAt.toISOString() } : null;
}

/** A resident as the registry sees them: the opaque id and the sites of their token. */
export interface SubjectOwner {
  userId: string;
  sites: readonly string[];
}

/** Pseudonyms per partner; {@link createSubjectRegistry} below is the one implementation. */
export interface SubjectRegistry {
  /** The resident's pseudonym at `partner`, without recording anything (erasure). */
  pseudonym(partner: Partner, userId: string): string;
  /**
   * The pseudonym, with the mapping recorded so that the partner's later access checks can be
   * answered. Written once per `rememberForMs` per instance for the same resident and sites.
   */
  subjectOf(partner: Partner, owner: SubjectOwner): Promise<string>;
  /**
   * The resident's token names these sites now: their rows at every partner are refreshed
   * (`confirmSubjectSites`), so access checks keep trusting them. Written once per
   * `rememberForMs` per instance for the same resident and sites, as `subjectOf`; with that
   * write, their guest keys at sites the token no longer names are queued to end.
   */
  confirmSites(owner: SubjectOwner): Promise<void>;
}

/**
 * Built once per api instance at startup. `pseudonym` computes the per-partner HMAC (the
 * partner client's `subjectFor` under that partner's key); this module never sees the keys.
 */
export function createSubjectRegistry(
  db: Database,
  pseudonym: (partner: Partner, userId: string) => string,
  options: { rememberForMs?: number; maxEntries?: number } = {},
): SubjectRegistry {
  const rememberForMs = options.rememberForMs ?? 5 * 60_000;
  const maxEntries = options.maxEntries ?? 50_000;
  /** When this instance last wrote a row (`s…`) or all of a resident's rows (`u…`), by sites. */
  const written = new Map<string, number>();
  const sitesKey = (sites: readonly string[]) => distinctSorted(sites).join(",");
  const rowKey = (partner: Partner, subject: string, sites: string) =>
    `s\u0000${partner}\u0000${subject}\u0000${sites}`;
  const fresh = (key: string, now: number) => (written.get(key) ?? 0) > now - rememberForMs;
  const wrote = (key: string, now: number) => {
    if (written.size > maxEntries) written.clear();
    written.set(key, now);
  };
  /** Pseudonyms computed lately (an HMAC each), by partner and resident. */
  const subjects = new Map<string, string>();
  const subjectFor = (partner: Partner, userId: string) => {
    const key = `${partner}\u0000${userId}`;
    let subject = subjects.get(key);
    if (subject === undefined) {
      subject = pseudonym(partner, userId);
      if (subjects.size >= maxEntries) subjects.clear();
      subjects.set(key, subject);
    }
    return subject;
  };
  return {
    pseudonym,
    async subjectOf(partner, owner) {
      const subject = subjectFor(partner, owner.userId);
      const key = rowKey(partner, subject, sitesKey(owner.sites));
      const now = Date.now();
      if (fresh(key, now)) return subject;
      await rememberSubject(db, {
        partner,
        subject,
        userId: owner.userId,
        sites: [...owner.sites],
      });
      wrote(key, now);
      return subject;
    },
    async confirmSites(owner) {
      const sites = sitesKey(owner.sites);
      const key = `u\u0000${owner.userId}\u0000${sites}`;
      const now = Date.now();
      if (fresh(key, now)) return;
      const rows = await confirmSubjectSites(db, {
        userId: owner.userId,
        sites: [...owner.sites],
      });
      // Keys at a site the token no longer names open doors that are not theirs any more.
      await requestKeyEnds(db, {
        userId: owner.userId,
        reason: "site_removed",
        keepSites: [...owner.sites],
      });
      wrote(key, now);
      // Those rows are now as `subjectOf` would write them: a partner call right after is free.
      for (const row of rows) wrote(rowKey(row.partner, row.subject, sites), now);
    },
  };
}
