import type { TokenIssuer } from "./access-tokens.ts";
import type { Dialect, FaultController, ResponseMode } from "./faults.ts";
import type { GuestKeyStore } from "./guest-keys.ts";
import type { IdempotencyStore } from "./idempotency.ts";
import type { SimClient } from "./options.ts";
import type { RecordedRequest, RecordingRecorder } from "./recorder.ts";
import type { SubjectDataStore } from "./subject-data.ts";
import type { VideoSessionManager } from "./video/sessions.ts";

export interface OpenResult {
  eventId: string;
  openedAt: string;
}

/** Everything the routes share; built once per sim. */
export interface SimContext {
  name: string;
  tokens: TokenIssuer;
  clients: ReadonlyMap<string, SimClient>;
  intercoms: ReadonlySet<string>;
  barriers: ReadonlySet<string>;
  recorder: RecordingRecorder;
  faults: FaultController;
  idempotency: IdempotencyStore<OpenResult>;
  video: VideoSessionManager;
  /** Plates and faces per client and subject, and the erasures done. */
  data: SubjectDataStore;
  /** Guest keys, with their codes (the sim is the partner). */
  keys: GuestKeyStore;
  /** Aborted when the sim stops: releases delayed and hung requests. */
  shutdown: AbortSignal;
  /** Lifts the server's idle timeout for a request the sim deliberately holds. */
  holdOpen(request: Request): void;
}

/** The record of the current request, filled in by the handlers and sent once answered. */
export type RecordDraft = Omit<RecordedRequest, "seq" | "status"> & { sent: boolean };

export type SimEnv = {
  Variables: {
    record: RecordDraft;
    /** The response mode in force when this API call arrived. */
    responseMode: ResponseMode;
    /** The dialect in force when this API call arrived. */
    dialect: Dialect;
  };
};
