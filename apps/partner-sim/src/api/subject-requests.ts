import {
  ERASURE_CATEGORIES,
  type ErasureCategory,
  matchPath,
  OPERATIONS,
  type OperationName,
  PartnerRecordId,
  SiteId,
  Subject,
} from "@propgate/partner-client/contract";
import type { Context } from "hono";
import type { z } from "zod";
import type { RecordDraft, SimEnv } from "../context.ts";
import { describeZodError } from "../faults.ts";
import type { RecordedOperation } from "../recorder.ts";
import { apiError } from "./answers.ts";
import { readLimitedText } from "./request-body.ts";

/**
 * What plate, face and erasure calls share: input validation, and what their records may hold —
 * ids, the subject, body field names, the plate, an image's size. Never a body or an image.
 */

/** A face body carries up to 5 MiB of JPEG as base64 (~6.7 MiB) plus a little JSON. */
export const MAX_FACE_BODY_BYTES = 8 * 1024 * 1024;
const MAX_RECORDED_FIELDS = 32;
const MAX_RECORDED_NAME = 64;
const MAX_RECORDED_PLATE = 32;

/** Operations that name their subject in `?subject=` (the POSTs carry it in the body). */
const SUBJECT_IN_QUERY: ReadonlySet<RecordedOperation> = new Set([
  "plates.list",
  "plates.remove",
  "faces.list",
  "faces.remove",
  "keys.list",
  "keys.delete",
]);

export type Validated<T> = { ok: true; data: T } | { ok: false; response: Response };

/** Parses `input`; a failure is 400 `invalid_request` naming the fields, never their values. */
export function validate<T extends z.ZodType>(
  c: Context<SimEnv>,
  schema: T,
  input: unknown,
): Validated<z.output<T>> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, data: parsed.data };
  return {
    ok: false,
    response: apiError(c, 400, "invalid_request", describeZodError(parsed.error)),
  };
}

/** `?categories=faces,plates` → the categories in contract order; absent means all; null if bad. */
export function parseErasureCategories(raw: string | undefined): ErasureCategory[] | null {
  if (raw === undefined) return [...ERASURE_CATEGORIES];
  const asked = raw.split(",").map((name) => name.trim());
  const known: readonly string[] = ERASURE_CATEGORIES;
  if (asked.some((name) => !known.includes(name))) return null;
  return ERASURE_CATEGORIES.filter((category) => asked.includes(category));
}

/** Decoded size of a base64 string, without decoding it. */
export function base64DecodedBytes(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return Math.floor(((text.length - padding) * 3) / 4);
}

function decodedSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function valid(schema: z.ZodType<string>, value: string | undefined): string | undefined {
  return value !== undefined && schema.safeParse(value).success ? value : undefined;
}

/**
 * Fills the record from the URL as the call arrives, so calls failed by an injected fault are
 * counted per subject too. Only values that pass the contract's schemas are kept.
 */
export function noteUrl(record: RecordDraft, url: URL): void {
  const { operation } = record;
  /** The operation's path ids in this URL, decoded; the template is the contract's. */
  const idsOf = (contract: OperationName) => {
    const raw = matchPath(OPERATIONS[contract].path, url.pathname) ?? {};
    return (name: string) => decodedSegment(raw[name]);
  };
  const note = (field: "siteId" | "plateId" | "faceId" | "subject", value?: string) => {
    if (value !== undefined) record[field] = value;
  };
  if (operation === "plates.list" || operation === "plates.add" || operation === "plates.remove") {
    const id = idsOf(operation);
    note("siteId", valid(SiteId, id("siteId")));
    note("plateId", valid(PartnerRecordId, id("plateId")));
  }
  if (operation === "faces.remove") {
    note("faceId", valid(PartnerRecordId, idsOf(operation)("faceId")));
  }
  if (operation === "subjects.erase") {
    note("subject", valid(Subject, idsOf(operation)("subject")));
    const categories = parseErasureCategories(url.searchParams.get("categories") ?? undefined);
    if (categories !== null) record.categories = categories;
  } else if (SUBJECT_IN_QUERY.has(operation)) {
    note("subject", valid(Subject, url.searchParams.get("subject") ?? undefined));
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Notes a plate or face body: its field names and subject, the plate, the image's size. */
export function noteBody(record: RecordDraft, value: unknown): void {
  if (!isPlainObject(value)) return;
  record.bodyFields = Object.keys(value)
    .slice(0, MAX_RECORDED_FIELDS)
    .map((name) => name.slice(0, MAX_RECORDED_NAME))
    .sort();
  const subject = valid(Subject, typeof value.subject === "string" ? value.subject : undefined);
  if (subject !== undefined) record.subject = subject;
  if (record.operation === "plates.add" && typeof value.plate === "string") {
    record.plate = value.plate.slice(0, MAX_RECORDED_PLATE);
  }
  if (record.operation === "faces.enroll" && typeof value.image === "string") {
    record.imageBytes = base64DecodedBytes(value.image);
  }
}

/**
 * For a plate or face POST answered by an injected fault before its handler ran: reads the body
 * only to note what `noteBody` keeps. Anything unreadable is ignored.
 */
export async function noteBodyOfUnhandledCall(c: Context<SimEnv>): Promise<void> {
  const record = c.get("record");
  if (record.operation !== "plates.add" && record.operation !== "faces.enroll") return;
  const body = await readLimitedText(c.req.raw, MAX_FACE_BODY_BYTES).catch(() => null);
  if (!body?.ok) return;
  try {
    noteBody(record, JSON.parse(body.text));
  } catch {
    // Not JSON: nothing to note.
  }
}
