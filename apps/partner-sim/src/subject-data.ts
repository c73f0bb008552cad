import { randomBytes } from "node:crypto";
import type {
  AddPlateRequest,
  ErasureCategory,
  FaceRecord,
  PlateRecord,
} from "@propgate/partner-client/contract";

/** The barrier partner keeps at most this many plates per subject and site. */
export const MAX_PLATES_PER_SUBJECT_SITE = 20;
/** The intercom partner keeps at most this many faces per subject. */
export const MAX_FACES_PER_SUBJECT = 5;
/** Largest face image (decoded JPEG bytes) the sim takes. */
export const MAX_FACE_IMAGE_BYTES = 5 * 1024 * 1024;
/** How many erasures `erasures()` remembers, newest last. */
const ERASURE_LOG_CAPACITY = 10_000;

export interface StoredPlateInfo {
  siteId: string;
  plate: string;
  subject: string;
  clientId: string;
}

export interface StoredFaceInfo {
  faceId: string;
  subject: string;
  /** SHA-256 of the enrolled image, hex; the image itself is never kept. */
  imageSha256: string;
  clientId: string;
}

export interface ErasureInfo {
  subject: string;
  categories: ErasureCategory[];
  /** ISO 8601. */
  at: string;
  clientId: string;
}

/** What the sim holds for subjects (plates, faces) and the erasures it performed, for tests. */
export interface SubjectData {
  /** Every stored plate, oldest first; of one subject when given. */
  plates(subject?: string): StoredPlateInfo[];
  /** Every stored face, oldest first; of one subject when given. */
  faces(subject?: string): StoredFaceInfo[];
  /** Erasures answered 200, oldest first (the last 10k). */
  erasures(): ErasureInfo[];
}

interface StoredPlate extends StoredPlateInfo {
  /** Order of creation across all subjects. */
  seq: number;
  record: PlateRecord;
}

interface StoredFace extends StoredFaceInfo {
  seq: number;
  createdAt: string;
}

export type AddPlateOutcome =
  | { ok: true; record: PlateRecord }
  | { ok: false; error: "conflict" | "limit_exceeded" };

export type EnrollFaceOutcome =
  | { ok: true; record: FaceRecord }
  | { ok: false; error: "limit_exceeded" };

/** The routes' side: every call is scoped to one client, so clients never see each other's data. */
export interface SubjectDataStore extends SubjectData {
  listPlates(clientId: string, subject: string, siteId: string): PlateRecord[];
  addPlate(clientId: string, siteId: string, request: AddPlateRequest): AddPlateOutcome;
  removePlate(clientId: string, subject: string, siteId: string, plateId: string): boolean;
  listFaces(clientId: string, subject: string): FaceRecord[];
  enrollFace(clientId: string, subject: string, imageSha256: string): EnrollFaceOutcome;
  removeFace(clientId: string, subject: string, faceId: string): boolean;
  /** Removes the subject's data in `categories` and answers how many records each lost. */
  erase(
    clientId: string,
    subject: string,
    categories: readonly ErasureCategory[],
  ): Partial<Record<ErasureCategory, number>>;
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

export function createSubjectDataStore(): SubjectDataStore {
  // Keyed by client and subject; each list is short (the limits above), so scans are cheap.
  const plates = new Map<string, StoredPlate[]>();
  const faces = new Map<string, StoredFace[]>();
  let erasures: ErasureInfo[] = [];
  let seq = 0;
  const owner = (clientId: string, subject: string) => `${clientId}\n${subject}`;

  const all = <T extends { subject: string; seq: number }>(
    held: Map<string, T[]>,
    subject?: string,
  ) =>
    [...held.values()]
      .flat()
      .filter((entry) => subject === undefined || entry.subject === subject)
      .sort((a, b) => a.seq - b.seq);

  return {
    plates: (subject) =>
      all(plates, subject).map(({ siteId, plate, subject, clientId }) => ({
        siteId,
        plate,
        subject,
        clientId,
      })),
    faces: (subject) =>
      all(faces, subject).map(({ faceId, subject, imageSha256, clientId }) => ({
        faceId,
        subject,
        imageSha256,
        clientId,
      })),
    erasures: () => erasures.map((entry) => ({ ...entry, categories: [...entry.categories] })),

    listPlates(clientId, subject, siteId) {
      return (plates.get(owner(clientId, subject)) ?? [])
        .filter((entry) => entry.siteId === siteId)
        .map((entry) => ({ ...entry.record }));
    },
    addPlate(clientId, siteId, request) {
      const key = owner(clientId, request.subject);
      const held = plates.get(key) ?? [];
      const atSite = held.filter((entry) => entry.siteId === siteId);
      if (atSite.some((entry) => entry.plate === request.plate)) {
        return { ok: false, error: "conflict" };
      }
      if (atSite.length >= MAX_PLATES_PER_SUBJECT_SITE) {
        return { ok: false, error: "limit_exceeded" };
      }
      const record: PlateRecord = {
        id: newId("pl"),
        plate: request.plate,
        validUntil: request.validUntil ?? null,
        createdAt: new Date().toISOString(),
      };
      seq += 1;
      held.push({ seq, siteId, plate: request.plate, subject: request.subject, clientId, record });
      plates.set(key, held);
      return { ok: true, record: { ...record } };
    },
    removePlate(clientId, subject, siteId, plateId) {
      const key = owner(clientId, subject);
      const held = plates.get(key) ?? [];
      const index = held.findIndex(
        (entry) => entry.siteId === siteId && entry.record.id === plateId,
      );
      if (index < 0) return false;
      held.splice(index, 1);
      if (held.length === 0) plates.delete(key);
      return true;
    },

    listFaces(clientId, subject) {
      return (faces.get(owner(clientId, subject)) ?? []).map(({ faceId, createdAt }) => ({
        faceId,
        createdAt,
      }));
    },
    enrollFace(clientId, subject, imageSha256) {
      const key = owner(clientId, subject);
      const held = faces.get(key) ?? [];
      if (held.length >= MAX_FACES_PER_SUBJECT) return { ok: false, error: "limit_exceeded" };
      seq += 1;
      const face: StoredFace = {
        seq,
        faceId: newId("fc"),
        subject,
        imageSha256,
        clientId,
        createdAt: new Date().toISOString(),
      };
      held.push(face);
      faces.set(key, held);
      return { ok: true, record: { faceId: face.faceId, createdAt: face.createdAt } };
    },
    removeFace(clientId, subject, faceId) {
      const key = owner(clientId, subject);
      const held = faces.get(key) ?? [];
      const index = held.findIndex((entry) => entry.faceId === faceId);
      if (index < 0) return false;
      held.splice(index, 1);
      if (held.length === 0) faces.delete(key);
      return true;
    },

    erase(clientId, subject, categories) {
      const key = owner(clientId, subject);
      const erased: Partial<Record<ErasureCategory, number>> = {};
      for (const category of categories) {
        const held = category === "plates" ? plates : faces;
        erased[category] = held.get(key)?.length ?? 0;
        held.delete(key);
      }
      erasures.push({
        subject,
        categories: [...categories],
        at: new Date().toISOString(),
        clientId,
      });
      if (erasures.length > ERASURE_LOG_CAPACITY) erasures = erasures.slice(-ERASURE_LOG_CAPACITY);
      return erased;
    },
  };
}
