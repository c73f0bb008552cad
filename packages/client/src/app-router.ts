/**
 * The api's router type: the one place this package names the server. In this repository it is
 * `@propgate/api`'s own; the published package ships its expansion instead (`build.ts`,
 * `api/app-router.d.ts`), which names no server type.
 */
export type { AppRouter } from "@propgate/api";
