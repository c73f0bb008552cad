import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMetrics } from "@propgate/observability";
import {
  createVpnCollector,
  parseWgDump,
  peerFingerprint,
  type VpnConnectionEvent,
} from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "propgate-wgdump-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PARTNER_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const OTHER_KEY = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
const INTERFACE_LINE =
  "cGFydG5lci1wcml2YXRlLWtleS1pcy1oZXJlLTAxMjM=\tHIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\t51820\toff";

function peerLine(key: string, endpoint: string, handshake: number, rx: number, tx: number) {
  return [
    key,
    "(none)",
    endpoint,
    "10.80.0.2/32",
    String(handshake),
    String(rx),
    String(tx),
    "25",
  ].join("\t");
}

describe("wg show dump", () => {
  test("parses peers and never keeps the interface's private key", () => {
    const peers = parseWgDump(
      `${INTERFACE_LINE}\n${peerLine(PARTNER_KEY, "192.168.50.2:51820", 1_700_000_000, 1234, 5678)}\n`,
    );
    expect(peers).toEqual([
      {
        publicKey: PARTNER_KEY,
        fingerprint: peerFingerprint(PARTNER_KEY),
        endpointIp: "192.168.50.2",
        allowedIps: ["10.80.0.2/32"],
        latestHandshake: 1_700_000_000,
        rxBytes: 1234,
        txBytes: 5678,
      },
    ]);
    expect(JSON.stringify(peers)).not.toContain("cGFydG5lci1wcml2YXRl");
  });

  test("malformed dumps are refused", () => {
    expect(() => parseWgDump(`${INTERFACE_LINE}\nnot\ta\tpeer`)).toThrow(/expected 8 fields/);
    expect(() => parseWgDump(`${INTERFACE_LINE}\n${peerLine("nokey", "(none)", 0, 0, 0)}`)).toThrow(
      /public key/,
    );
  });
});

describe("the collector", () => {
  test("records a connect on a fresh handshake and a disconnect when handshakes stop or the peer goes", async () => {
    const file = join(dir, "dump.txt");
    const events: VpnConnectionEvent[] = [];
    let clock = 1_700_000_000_000;
    const metrics = createMetrics({ app: "health-probe" });
    const collector = createVpnCollector({
      iface: "wg0",
      command: ["cat", file],
      handshakeTimeoutSeconds: 180,
      now: () => clock,
      metrics,
      record: async (event) => {
        events.push(event);
      },
    });
    const write = (...lines: string[]) =>
      writeFileSync(file, `${[INTERFACE_LINE, ...lines].join("\n")}\n`);

    write(peerLine(PARTNER_KEY, "(none)", 0, 0, 0), peerLine(OTHER_KEY, "(none)", 0, 0, 0));
    expect(await collector.pollOnce()).toEqual([]);

    write(
      peerLine(PARTNER_KEY, "192.168.50.2:51820", 1_700_000_010, 100, 200),
      peerLine(OTHER_KEY, "(none)", 0, 0, 0),
    );
    clock = 1_700_000_020_000;
    expect((await collector.pollOnce()).map((e) => [e.kind, e.endpointIp])).toEqual([
      ["connected", "192.168.50.2"],
    ]);
    expect(await metrics.registry.metrics()).toContain(
      `propgate_vpn_peer_up{iface="wg0",peer="${peerFingerprint(PARTNER_KEY)}",app="health-probe"} 1`,
    );

    clock = 1_700_000_100_000; // 90 s after the handshake: still up
    expect(await collector.pollOnce()).toEqual([]);
    clock = 1_700_000_300_000; // 290 s: gone quiet
    const [down] = await collector.pollOnce();
    expect(down).toMatchObject({
      kind: "disconnected",
      peerFingerprint: peerFingerprint(PARTNER_KEY),
      rxBytes: 100,
      txBytes: 200,
    });

    write(peerLine(PARTNER_KEY, "192.168.50.2:51820", 1_700_000_290, 300, 400));
    expect((await collector.pollOnce()).map((e) => e.kind)).toEqual(["connected"]);
    write(); // the peer was removed from the interface
    expect((await collector.pollOnce()).map((e) => e.kind)).toEqual(["disconnected"]);
    expect(events.map((e) => e.kind)).toEqual([
      "connected",
      "disconnected",
      "connected",
      "disconnected",
    ]);
  });

  test("a failing dump command is an error, not an event", async () => {
    const collector = createVpnCollector({
      iface: "wg0",
      command: ["false"],
      handshakeTimeoutSeconds: 180,
      record: async () => {},
    });
    await expect(collector.pollOnce()).rejects.toThrow(/exited with 1/);
  });
});

describe("the VPN connection log", () => {
  test("events land in vpn_events with fingerprint, endpoint IP, time and bytes", async () => {
    const { createTestDatabase } = await import("@propgate/consent-audit/testing");
    const { listVpnEvents, recordVpnEvent } = await import("@propgate/consent-audit");
    const database = await createTestDatabase();
    try {
      const file = join(dir, "dump-db.txt");
      writeFileSync(
        file,
        `${INTERFACE_LINE}\n${peerLine(PARTNER_KEY, "192.168.50.2:51820", Math.floor(Date.now() / 1000), 10, 20)}\n`,
      );
      const collector = createVpnCollector({
        iface: "wg0",
        command: ["cat", file],
        handshakeTimeoutSeconds: 180,
        record: (event) => recordVpnEvent(database.db, event),
      });
      await collector.pollOnce();
      const [row] = await listVpnEvents(database.db);
      expect(row).toMatchObject({
        iface: "wg0",
        kind: "connected",
        endpointIp: "192.168.50.2",
        peerFingerprint: peerFingerprint(PARTNER_KEY),
        rxBytes: 10,
        txBytes: 20,
      });
      expect(JSON.stringify(row)).not.toContain(PARTNER_KEY);
    } finally {
      await database.close();
    }
  });
});
