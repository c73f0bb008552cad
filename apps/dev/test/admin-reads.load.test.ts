import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lockAuditEvents } from "@propgate/consent-audit/testing";
import {
  grant,
  HIGH_RATE_LIMITS,
  type Resident,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { seedAuditRows } from "./audit-seed.ts";

/*
 * Invariant 8 (issue 23): no admin read can take an instance down. A viewer — the lowest admin
 * role — fires 30 verifies and exports at once while a resident keeps opening doors: every open
 * answers, `/readyz` stays green, one verify and one export run, the rest are told to come back
 * (429 with Retry-After), through the admin app too. Before, each verify held a pool connection
 * and waited for a second one from the same pool: ten at once took all ten and waited for ever.
 * Admin reads stuck behind a lock are cancelled at their statement timeout.
 */

const onPostgres = process.env.DATABASE_URL !== undefined;
if (!onPostgres) {
  console.log(
    "[skip] admin reads under load: needs PostgreSQL (set DATABASE_URL); PGlite is one backend with no pool to exhaust",
  );
}

/** Enough rows that a verify or an export takes a moment, so a burst overlaps it. */
const SEEDED_ROWS = 30_000;
/** How long one request may take before the test calls the instance wedged. */
const ANSWER_WITHIN_MS = 20_000;

type AuditRead = "admin.audit.verify" | "admin.audit.export" | "admin.audit.list";

let stack: TestStack;
let resident: Resident;
let viewerToken: string;

beforeAll(async () => {
  if (!onPostgres) return;
  stack = await startTestStack({ env: HIGH_RATE_LIMITS, logLevel: "warn" });
  await seedAuditRows(stack, SEEDED_ROWS, "seed/admin-reads-load");
  resident = await stack.resident("resident-admin-reads-load");
  await grant(resident, ["intercom"]);
  viewerToken = await stack.issuer.mint({
    sub: "viewer-admin-reads-load",
    sites: [],
    role: "viewer",
  });
}, 60_000);

afterAll(async () => {
  if (onPostgres) await stack.close();
}, 30_000);

interface Answer {
  procedure: AuditRead;
  /** 0: no answer within ANSWER_WITHIN_MS. */
  status: number;
  retryAfter: string | null;
  cause: { code?: string; retryAfterSeconds?: number } | null;
}

/** One admin read as sent to `base` (the api with a bearer token, or the admin app with a cookie). */
async function adminRead(
  procedure: AuditRead,
  via: { base: string; headers: Record<string, string> } = {
    base: stack.api.url,
    headers: { authorization: `Bearer ${viewerToken}` },
  },
): Promise<Answer> {
  try {
    // The list's input is required (its filters and page size have defaults).
    const input = procedure === "admin.audit.list" ? `?input=${encodeURIComponent("{}")}` : "";
    const response = await fetch(`${via.base}/trpc/${procedure}${input}`, {
      headers: via.headers,
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    const body = (await response.json()) as { error?: { data?: { cause?: Answer["cause"] } } };
    return {
      procedure,
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      cause: body.error?.data?.cause ?? null,
    };
  } catch {
    return { procedure, status: 0, retryAfter: null, cause: null };
  }
}

/** A door open with a deadline: what went wrong, or null when the door opened. */
async function openDoor(): Promise<string | null> {
  try {
    const response = await fetch(`${stack.api.url}/trpc/intercom.openDoor`, {
      method: "POST",
      headers: { authorization: `Bearer ${resident.token}`, "content-type": "application/json" },
      body: JSON.stringify({ deviceId: "door-a1" }),
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    const body = (await response.json()) as { result?: { data?: { status?: string } } };
    return body.result?.data?.status === "opened"
      ? null
      : `${response.status} ${JSON.stringify(body)}`;
  } catch (error) {
    return `no answer: ${(error as Error).name}`;
  }
}

async function readyz(): Promise<number> {
  try {
    return (await fetch(`${stack.api.url}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

/** The 429s say when to come back, in the header and in the cause alike. */
function expectComeBackLater(refused: Answer[]) {
  for (const answer of refused) {
    expect(answer.cause?.code).toBe("RATE_LIMITED");
    expect(answer.retryAfter).toMatch(/^[1-9][0-9]*$/);
    expect(answer.cause?.retryAfterSeconds).toBe(Number(answer.retryAfter));
  }
}

/** Signs in at the admin app as the dev viewer, as a browser would; the cookies to send. */
async function adminAppSession(): Promise<string> {
  const jar = new Map<string, string>();
  const keep = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
  };
  const cookies = () => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
  const login = await fetch(`${stack.admin.url}/auth/login`, { redirect: "manual" });
  keep(login);
  const authorize = new URL(login.headers.get("location") ?? "");
  const form = new URLSearchParams(authorize.searchParams);
  form.set("account", "dev-viewer");
  const granted = await fetch(`${authorize.origin}${authorize.pathname}`, {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  const callback = await fetch(granted.headers.get("location") ?? "", {
    headers: { cookie: cookies() },
    redirect: "manual",
  });
  keep(callback);
  expect(callback.status).toBe(200);
  return cookies();
}

describe.if(onPostgres)("admin reads under load (invariant 8)", () => {
  test("30 concurrent verifies and exports from a viewer: opens answer, /readyz stays 200, the extra ones get 429", async () => {
    let bursting = true;
    const openFailures: string[] = [];
    let opens = 0;
    const openers = Array.from({ length: 3 }, async () => {
      // A few opens each at least, and on until the whole burst has answered.
      for (let i = 0; bursting || i < 5; i++) {
        const failure = await openDoor();
        opens++;
        if (failure) openFailures.push(failure);
      }
    });
    const readiness: number[] = [];
    const prober = (async () => {
      while (bursting) {
        readiness.push(await readyz());
        await Bun.sleep(50); // a probe's interval, not a wait for state
      }
    })();

    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        adminRead(i % 2 ? "admin.audit.export" : "admin.audit.verify"),
      ),
    );
    bursting = false;
    await Promise.all([...openers, prober]);

    expect(openFailures).toEqual([]);
    expect(opens).toBeGreaterThanOrEqual(15);
    expect(readiness.length).toBeGreaterThan(0);
    expect(readiness.filter((status) => status !== 200)).toEqual([]);

    expect(answers.filter((answer) => answer.status !== 200 && answer.status !== 429)).toEqual([]);
    for (const procedure of ["admin.audit.verify", "admin.audit.export"]) {
      const mine = answers.filter((answer) => answer.procedure === procedure);
      // The burst lands within milliseconds, a run over 30,000 rows takes far longer.
      expect(mine.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(1);
      expect(mine.filter((answer) => answer.status === 429).length).toBeGreaterThanOrEqual(10);
    }
    expectComeBackLater(answers.filter((answer) => answer.status === 429));
    // The one that ran found the seeded chain intact.
    const verdict = await fetch(`${stack.api.url}/trpc/admin.audit.verify`, {
      headers: { authorization: `Bearer ${viewerToken}` },
    });
    expect(verdict.status).toBe(200);
    expect(await verdict.json()).toMatchObject({ result: { data: { ok: true } } });
  }, 120_000);

  test("through the admin app, a second verify at once is answered 429 with Retry-After", async () => {
    const cookie = await adminAppSession();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        adminRead("admin.audit.verify", { base: stack.admin.url, headers: { cookie } }),
      ),
    );
    expect(answers.filter((answer) => answer.status !== 200 && answer.status !== 429)).toEqual([]);
    expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(1);
    expect(answers.filter((answer) => answer.status === 429).length).toBeGreaterThanOrEqual(2);
    expectComeBackLater(answers.filter((answer) => answer.status === 429));
  }, 60_000);

  test("admin reads stuck behind a lock are cancelled at their statement timeout, and free their slot", async () => {
    const instance = await startInstance(stack, "admin-reads-timeouts", {
      ADMIN_READ_STATEMENT_TIMEOUT_MS: "300",
      ADMIN_AUDIT_STATEMENT_TIMEOUT_MS: "600",
    });
    const via = {
      base: instance.api.url,
      headers: { authorization: `Bearer ${viewerToken}` },
    };
    // Another session holds the audit table: every read of it waits (migrations do this too).
    const unlock = await lockAuditEvents(stack.testDatabase.url ?? "");
    try {
      const stuck = await Promise.all(
        (["admin.audit.list", "admin.audit.export", "admin.audit.verify"] as const).map(
          (procedure) => adminRead(procedure, via),
        ),
      );
      for (const answer of stuck) {
        expect({ procedure: answer.procedure, status: answer.status }).toEqual({
          procedure: answer.procedure,
          status: 503,
        });
        // Cancelled, not out of reach: no time to come back is promised.
        expect(answer.cause).toEqual({ code: "UNAVAILABLE" });
        expect(answer.retryAfter).toBeNull();
      }
    } finally {
      await unlock();
    }
    const after = await Promise.all(
      (["admin.audit.list", "admin.audit.export", "admin.audit.verify"] as const).map((procedure) =>
        adminRead(procedure, via),
      ),
    );
    expect(after.map((answer) => answer.status)).toEqual([200, 200, 200]);
    await instance.stop();
  }, 60_000);
});
