import type { AppRouter as ApiRouter } from "@propgate/api";
import type {
  AnyTRPCProcedure,
  AnyTRPCRouter,
  inferProcedureInput,
  inferTransformedProcedureOutput,
  TRPCBuiltRouter,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
  TRPCSubscriptionProcedure,
} from "@trpc/server";

/**
 * The api's router as a client sees it, for the published declarations (`build.ts`): each
 * procedure's input and its output as JSON brings it, no server context. TypeScript's
 * declaration emit prints `appRouter`'s inferred type in full; the conditional types below exist
 * only to drop the names of server-side types on the way. Never run: nothing imports this file.
 */

/** A type spelled out: objects and arrays member by member (a resolved conditional has no name). */
type Plain<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends AsyncIterable<infer Y>
    ? AsyncIterable<Plain<Y>>
    : T extends object
      ? { [K in keyof T]: Plain<T[K]> }
      : T;

/** A procedure with its types spelled out (written out per kind: an alias would keep its name). */
type ProcedureView<
  R extends AnyTRPCRouter,
  P extends AnyTRPCProcedure,
> = P["_def"]["type"] extends "query"
  ? TRPCQueryProcedure<{
      input: Plain<inferProcedureInput<P>>;
      output: Plain<inferTransformedProcedureOutput<R, P>>;
      meta: object;
    }>
  : P["_def"]["type"] extends "mutation"
    ? TRPCMutationProcedure<{
        input: Plain<inferProcedureInput<P>>;
        output: Plain<inferTransformedProcedureOutput<R, P>>;
        meta: object;
      }>
    : TRPCSubscriptionProcedure<{
        input: Plain<inferProcedureInput<P>>;
        output: Plain<inferTransformedProcedureOutput<R, P>>;
        meta: object;
      }>;

type RecordView<R extends AnyTRPCRouter, Rec> = Rec extends object
  ? {
      [K in keyof Rec]: Rec[K] extends AnyTRPCProcedure
        ? ProcedureView<R, Rec[K]>
        : RecordView<R, Rec[K]>;
    }
  : never;

declare function view<R extends AnyTRPCRouter>(): R extends unknown
  ? TRPCBuiltRouter<
      {
        ctx: object;
        meta: object;
        errorShape: Plain<R["_def"]["_config"]["$types"]["errorShape"]>;
        transformer: R["_def"]["_config"]["$types"]["transformer"];
      },
      RecordView<R, R["_def"]["record"]>
    >
  : never;

/**
 * A vocabulary type (`Purpose`, `ErasedCounts`) spelled out: a union of literals rebuilt as a new
 * union, which carries no alias name; an object member by member.
 */
export declare function spelledOut<T>(): [T] extends [PropertyKey]
  ? { [K in T]: K }[T]
  : T extends object
    ? { [K in keyof T]: T[K] }
    : T;

export const appRouter = view<ApiRouter>();
