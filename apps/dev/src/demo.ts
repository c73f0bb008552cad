import type { AppRouter } from "@propgate/api";
import { createTRPCClient, httpLink } from "@trpc/client";
import { startEmbeddedStack } from "./embedded.ts";

/**
 * `bun run demo`: a resident's walk through the api, over HTTP, on a throwaway in-memory stack:
 * get a dev token, grant consent, list devices, open a door and a gate, hear a ring at the flat
 * (the intercom sim posts it to the partner surface), then read the journal and the audit rows.
 */
const stack = await startEmbeddedStack({ dataDir: null, logLevel: "warn", partnerEvents: true });
const say = (step: string, value?: unknown) =>
  console.log(`\n▶ ${step}${value === undefined ? "" : `\n${JSON.stringify(value, null, 2)}`}`);

try {
  const tokenResponse = await fetch(`${stack.issuer.url}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub: "demo-resident", sites: ["site-a"], units: ["unit-a-42"] }),
  });
  const { token } = (await tokenResponse.json()) as { token: string };
  say(`got a resident token from the dev issuer (${token.slice(0, 16)}…)`);
  const resident = createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${stack.api.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
    ],
  });

  const consents = await resident.consent.list.query();
  say("consent.list", consents);
  for (const purpose of ["intercom", "barrier", "journal"] as const) {
    const notice =
      consents.find((consent) => consent.purpose === purpose)?.currentNoticeVersion ?? 1;
    await resident.consent.grant.mutate({ purpose, noticeVersion: notice });
  }
  say("consent.grant intercom + barrier + journal (current notice versions)");
  say("devices.list", await resident.devices.list.query());
  say(
    "intercom.openDoor door-a1",
    await resident.intercom.openDoor.mutate({ deviceId: "door-a1" }),
  );
  say("barrier.open gate-a", await resident.barrier.open.mutate({ deviceId: "gate-a" }));

  // The intercom partner's side, as its admin API is driven: someone rings flat 42 at entrance 1.
  const ring = await fetch(`${stack.sims.intercom.adminUrl}/admin/calls`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ deviceId: "ic-a1", unitId: "42", cameraId: "cam-a1" }),
  });
  const { status } = (await ring.json()) as { status: number };
  say(`the intercom sim rang flat 42 at ic-a1 (Propgate answered ${status})`);
  say("events.list (the resident's journal)", (await resident.events.list.query()).entries);

  const adminToken = await stack.issuer.mint({ sub: "demo-admin", sites: [], admin: true });
  const admin = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${stack.api.url}/trpc`,
        headers: { authorization: `Bearer ${adminToken}` },
      }),
    ],
  });
  // An answer's row is queued, not awaited (it rides with the next batch, 20 ms at most): read
  // until the gate's answer is in, for a second at most.
  const readTrail = () => admin.admin.audit.list.query({ userId: "demo-resident", limit: 20 });
  let { rows } = await readTrail();
  for (let tries = 0; tries < 20; tries++) {
    if (rows.some((row) => row.kind === "partner.response" && row.operation === "barrier.open"))
      break;
    await Bun.sleep(50);
    ({ rows } = await readTrail());
  }
  say("audit rows for demo-resident (admin.audit.list, newest first)");
  for (const row of rows) {
    const cells = [
      `#${row.seq}`,
      row.at,
      row.kind,
      row.operation ?? "",
      row.target ?? "",
      row.result,
    ];
    console.log(
      `  ${cells.map((cell) => String(cell).padEnd(16)).join(" ")}${row.latencyMs === null ? "" : `${row.latencyMs} ms`}`,
    );
  }
} finally {
  await stack.stop();
}
