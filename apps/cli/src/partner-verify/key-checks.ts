import { randomUUID } from "node:crypto";
import {
  type CallHooks,
  keysOperations,
  OPERATIONS,
  PartnerRejectedError,
  type PartnerScope,
  subjectFor,
} from "@propgate/partner-client";
import {
  attemptLog,
  describeFailure,
  type Flag,
  fail,
  pass,
  skip,
  type Verification,
} from "./verification.ts";

/**
 * Guest keys at `--site` for the door `--device`, as the synthetic subject: create one (valid an
 * hour, one use), find it listed for that subject and for no other, see a token without
 * keys.manage refused, delete it and find it gone. Every key made here is deleted before the
 * rows are returned, whichever row failed. A code or QR is never printed.
 */

const KEYS_SCOPE = OPERATIONS["keys.create"].scope;
/** Long enough to outlast the run, short enough that a key a failed delete leaves soon dies. */
const KEY_VALID_MS = 3_600_000;

/** Now and an hour on, in whole seconds (a partner may keep no milliseconds). */
function validity(): { validFrom: string; validUntil: string } {
  const from = Math.ceil(Date.now() / 1000) * 1000;
  return {
    validFrom: new Date(from).toISOString(),
    validUntil: new Date(from + KEY_VALID_MS).toISOString(),
  };
}

const sameInstant = (a: string, b: string) => Date.parse(a) === Date.parse(b);

/** The keys this run made at the partner, to be deleted whatever happens. */
interface Made {
  keyIds: Set<string>;
}

export async function checkKeys(run: Verification): Promise<void> {
  const made: Made = { keyIds: new Set() };
  try {
    await checkKeyRows(run, made);
  } finally {
    await deleteLeftovers(run, made);
  }
}

async function checkKeyRows(run: Verification, made: Made): Promise<void> {
  const { site, device } = run.input.targets;
  const keys = keysOperations(run.client);
  const siteId = site ?? "";
  const createFlags: Flag[] = [
    ["--device", device],
    ["--site", site],
  ];
  const siteFlag: Flag[] = [["--site", site]];
  const asked = validity();
  const created: { keyId?: string } = {};

  await run.check("keys.create", { operation: "keys.create", flags: createFlags }, async () => {
    const log = attemptLog();
    const key = await keys.create({
      siteId,
      subject: run.subject,
      devices: [device ?? ""],
      ...asked,
      maxUses: 1,
      idempotencyKey: `propgate-verify-${randomUUID()}`,
      hooks: log.hooks,
    });
    made.keyIds.add(key.keyId);
    created.keyId = key.keyId;
    const status = log.last();
    if (status !== 200 && status !== 201)
      return fail("keys.create", `HTTP ${status}: a created key is answered 201 (or 200)`);
    if (
      !sameInstant(key.validFrom, asked.validFrom) ||
      !sameInstant(key.validUntil, asked.validUntil)
    )
      return fail(
        "keys.create",
        `HTTP ${status}: the key's validFrom/validUntil are not those asked`,
      );
    const qr = key.qr === undefined ? "no QR" : "a QR";
    return pass("keys.create", `HTTP ${status}: {keyId, code, validFrom, validUntil}, ${qr}`);
  });

  const keyId = created.keyId;
  if (keyId === undefined) {
    run.rows.push(skip("keys.list", "no key to find (see keys.create)"));
  } else {
    await run.check("keys.list", { operation: "keys.list", flags: siteFlag }, async () => {
      const log = attemptLog();
      const mine = await keys.list({ siteId, subject: run.subject, hooks: log.hooks });
      const listed = mine.keys.find((key) => key.keyId === keyId);
      if (!listed)
        return fail("keys.list", `HTTP ${log.last()}: the key just created is not listed`);
      if (mine.keys.length !== 1)
        return fail(
          "keys.list",
          `${mine.keys.length} keys listed for a new subject that made one: others' keys shown`,
        );
      if (!listed.devices.includes(device ?? ""))
        return fail("keys.list", `the listed key is not for ${device}`);
      // A subject that stands for no one else: it must see nothing of this subject's keys.
      const other = subjectFor(`propgate-verify:${randomUUID()}`, run.input.settings.subjectKey);
      const theirs = await keys.list({ siteId, subject: other });
      if (theirs.keys.some((key) => key.keyId === keyId))
        return fail("keys.list", "the key is listed for another subject too");
      return pass(
        "keys.list",
        `HTTP ${log.last()}: the created key, listed for its subject and not for another`,
      );
    });
  }

  await checkKeysWrongScope(run, made, keyId);

  if (keyId === undefined) {
    run.rows.push(skip("keys.delete", "no key to delete (see keys.create)"));
    return;
  }
  await run.check("keys.delete", { operation: "keys.delete", flags: siteFlag }, async () => {
    const log = attemptLog();
    await keys.delete({ keyId, subject: run.subject, hooks: log.hooks });
    const status = log.last();
    if (status === 200 || status === 204) made.keyIds.delete(keyId);
    if (status !== 200 && status !== 204)
      return fail("keys.delete", `HTTP ${status} (expected 200 or 204)`);
    const after = await keys.list({ siteId, subject: run.subject });
    return after.keys.some((key) => key.keyId === keyId)
      ? fail("keys.delete", `HTTP ${status}, yet the key is still listed`)
      : pass("keys.delete", `HTTP ${status}: deleted, and no longer listed`);
  });
}

/**
 * A token of another scope (health.read first) must be refused with 403 (or 401) on each keys
 * endpoint: list, create at `--device` and delete of the key just made. A create it accepts
 * anyway makes a key, deleted with the rest.
 */
async function checkKeysWrongScope(run: Verification, made: Made, keyId: string | undefined) {
  const check = "keys.wrong-scope";
  const { site, device } = run.input.targets;
  if (site === null) {
    run.rows.push(skip(check, "give --site <id> to check keys.manage is enforced"));
    return;
  }
  const preferred: PartnerScope[] = [OPERATIONS.health.scope, ...run.granted];
  const other = preferred.find((scope) => scope !== KEYS_SCOPE && run.granted.has(scope));
  if (other === undefined) {
    run.rows.push(skip(check, `needs a token of a scope other than ${KEYS_SCOPE}`));
    return;
  }
  const keys = keysOperations(
    run.clientWith({ getToken: (_scopes, options) => run.tokens.getToken([other], options) }),
  );
  const probes: Array<{ what: string; send: (hooks: CallHooks) => Promise<unknown> }> = [
    {
      what: "keys.list",
      send: (hooks) => keys.list({ siteId: site, subject: run.subject, hooks }),
    },
  ];
  if (device !== null) {
    probes.push({
      what: "keys.create",
      send: async (hooks) => {
        const key = await keys.create({
          siteId: site,
          subject: run.subject,
          devices: [device],
          ...validity(),
          maxUses: 1,
          idempotencyKey: `propgate-verify-${randomUUID()}`,
          hooks,
        });
        made.keyIds.add(key.keyId);
      },
    });
  }
  if (keyId !== undefined) {
    probes.push({
      what: "keys.delete",
      send: (hooks) => keys.delete({ keyId, subject: run.subject, hooks }),
    });
  }
  const refused: string[] = [];
  for (const probe of probes) {
    const log = attemptLog();
    try {
      await probe.send(log.hooks);
      run.rows.push(
        fail(
          check,
          `wrong scope accepted: ${probe.what} with a token for ${other} answered HTTP ${log.last()}`,
        ),
      );
      return;
    } catch (error) {
      const status = log.last();
      if (status !== 401 && status !== 403) {
        run.rows.push(
          fail(
            check,
            `${probe.what} with a token for ${other}: expected 403, got ${describeFailure(error)}`,
          ),
        );
        return;
      }
      refused.push(`${probe.what} → ${status}`);
    }
  }
  run.rows.push(pass(check, `a token for ${other} refused: ${refused.join("; ")}`));
}

/**
 * Deletes what the rows left at the partner; 404 or 410 is a key already gone. The subject is
 * new, so every key listed for it is this run's: that finds a key whose create answer was
 * unreadable too.
 */
async function deleteLeftovers(run: Verification, made: Made): Promise<void> {
  const site = run.input.targets.site;
  if (site === null || !run.granted.has(KEYS_SCOPE)) return;
  const keys = keysOperations(run.client);
  try {
    const listed = await keys.list({ siteId: site, subject: run.subject });
    for (const key of listed.keys) made.keyIds.add(key.keyId);
  } catch {
    // The keys.list row says why; the keys already known are still deleted.
  }
  const left: string[] = [];
  for (const keyId of made.keyIds) {
    try {
      await keys.delete({ keyId, subject: run.subject });
    } catch (error) {
      const gone =
        error instanceof PartnerRejectedError && (error.status === 404 || error.status === 410);
      if (!gone) left.push(`${keyId} (${describeFailure(error)})`);
    }
  }
  if (left.length > 0) {
    run.rows.push(
      fail(
        "keys.cleanup",
        `could not delete the key(s) this run made: ${left.join(", ")}; they end within the hour`,
      ),
    );
  }
}
