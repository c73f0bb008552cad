import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { checkSecretFileMode, fileMode, octal } from "./file-modes.ts";
import { type Finding, FindingSink } from "./findings.ts";
import { type IpPrefix, overlaps, parsePrefix } from "./ip-prefix.ts";

export interface WgEntry {
  key: string;
  value: string;
  line: number;
}

export interface WgSection {
  /** `Interface` or `Peer` (wg-quick), `WireGuard` / `WireGuardPeer` (systemd-networkd). */
  name: string;
  line: number;
  /** The comment just above the section header, e.g. `# intercom partner`. */
  label: string | null;
  entries: WgEntry[];
}

/** A WireGuard key: 32 bytes in base64 (44 characters, the last one `=`). */
const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** keepalive between these bounds (seconds) keeps NAT mappings without chatter. */
const KEEPALIVE_MIN = 10;
const KEEPALIVE_MAX = 120;

/** INI-ish: `[Section]`, `Key = Value`, `#`/`;` comments. Keys compare case-insensitively. */
export function parseWireGuardConfig(text: string): WgSection[] {
  const sections: WgSection[] = [];
  let pendingComment: string | null = null;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || trimmed.startsWith(";")) {
      pendingComment = trimmed.replace(/^[#;]+\s*/, "") || pendingComment;
      return;
    }
    const content = trimmed.replace(/\s+#.*$/, "");
    if (content === "") {
      pendingComment = null;
      return;
    }
    const header = /^\[([^\]]+)\]$/.exec(content);
    if (header?.[1]) {
      sections.push({ name: header[1].trim(), line, label: pendingComment, entries: [] });
      pendingComment = null;
      return;
    }
    pendingComment = null;
    const eq = content.indexOf("=");
    const section = sections.at(-1);
    if (eq <= 0 || section === undefined) return;
    section.entries.push({
      key: content.slice(0, eq).trim().toLowerCase(),
      value: content.slice(eq + 1).trim(),
      line,
    });
  });
  return sections;
}

function entries(section: WgSection, key: string): WgEntry[] {
  return section.entries.filter((entry) => entry.key === key);
}

function first(section: WgSection, key: string): WgEntry | undefined {
  return entries(section, key)[0];
}

function isInterface(section: WgSection): boolean {
  return /^(interface|wireguard)$/i.test(section.name);
}

function isPeer(section: WgSection): boolean {
  return /^(peer|wireguardpeer)$/i.test(section.name);
}

function describePeer(section: WgSection, index: number): string {
  return section.label ? `peer #${index + 1} (${section.label})` : `peer #${index + 1}`;
}

/** Key files named by `PrivateKeyFile=` (networkd) or `PostUp = wg set %i private-key <file>`. */
function keyFiles(section: WgSection, iface: string, confDir: string): WgEntry[] {
  const files: WgEntry[] = [];
  for (const entry of section.entries) {
    if (entry.key === "privatekeyfile" || entry.key === "presharedkeyfile") {
      files.push({ ...entry, value: resolve(confDir, entry.value) });
    }
    if (entry.key === "postup" || entry.key === "preup") {
      for (const match of entry.value.matchAll(/(?:private-key|preshared-key)\s+(\S+)/g)) {
        const path = match[1]?.replaceAll("%i", iface).replace(/^["']|["']$/g, "");
        if (path && !path.startsWith("<(") && path !== "/dev/stdin") {
          files.push({ ...entry, value: resolve(confDir, path) });
        }
      }
    }
  }
  return files;
}

/** Audits one WireGuard configuration file (wg-quick or systemd-networkd style). */
export function checkWireGuardFile(path: string): Finding[] {
  const sink = new FindingSink(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    sink.add("medium", "wireguard.readable", `cannot read ${path}`);
    return sink.findings;
  }
  const sections = parseWireGuardConfig(text);
  const iface = basename(path).replace(/\.(conf|netdev)$/, "");
  const mode = fileMode(path);
  const interfaces = sections.filter(isInterface);
  const peers = sections.filter(isPeer);

  if (interfaces.length !== 1) {
    sink.add(
      "medium",
      "wireguard.interface",
      `expected one [Interface] section, found ${interfaces.length}`,
    );
  }

  let inlineSecret = false;
  for (const section of sections) {
    for (const entry of [...entries(section, "privatekey"), ...entries(section, "presharedkey")]) {
      const name = entry.key === "privatekey" ? "PrivateKey" : "PresharedKey";
      if (!WG_KEY.test(entry.value)) {
        sink.add(
          "info",
          "wireguard.private-key",
          `${name} is a placeholder, not a key; install the key in a 0600 file`,
          entry.line,
        );
        continue;
      }
      inlineSecret = true;
      if (mode?.worldReadable) {
        sink.add(
          "critical",
          "wireguard.private-key",
          `${name} inline in a world-readable file (mode ${octal(mode.mode)}); chmod 600`,
          entry.line,
        );
      } else if (mode?.groupReadable) {
        sink.add(
          "high",
          "wireguard.private-key",
          `${name} inline in a group-readable file (mode ${octal(mode.mode)}); chmod 600`,
          entry.line,
        );
      }
    }
  }
  if (mode && (mode.worldWritable || mode.groupWritable)) {
    sink.add(
      mode.worldWritable ? "critical" : "high",
      "wireguard.permissions",
      `writable by ${mode.worldWritable ? "everyone" : "its group"} (mode ${octal(mode.mode)}); PostUp/PreUp lines run as root`,
    );
  } else if (mode && !inlineSecret && (mode.worldReadable || mode.groupReadable)) {
    sink.add(
      "info",
      "wireguard.permissions",
      `readable by others (mode ${octal(mode.mode)}); it holds no private key`,
    );
  }

  for (const section of sections) {
    for (const file of keyFiles(section, iface, dirname(path))) {
      if (fileMode(file.value) === null) {
        sink.add(
          "info",
          "wireguard.key-file",
          `key file ${file.value} is not on this machine; run the check where the tunnel runs`,
          file.line,
        );
        continue;
      }
      const keySink = new FindingSink(path);
      checkSecretFileMode(keySink, file.value, "WireGuard key file", "wireguard.key-file");
      for (const finding of keySink.findings) {
        sink.add(finding.severity, finding.check, finding.message, file.line);
      }
    }
  }

  for (const section of interfaces) {
    const files = keyFiles(section, iface, dirname(path));
    if (first(section, "privatekey") === undefined && files.length === 0) {
      sink.add(
        "low",
        "wireguard.private-key",
        "no PrivateKey and no key file: the interface cannot come up",
        section.line,
      );
    }
    const saveConfig = first(section, "saveconfig");
    if (saveConfig && /^(true|yes|1)$/i.test(saveConfig.value)) {
      sink.add(
        "low",
        "wireguard.save-config",
        "SaveConfig = true: wg-quick rewrites this file from the running state (peers added at runtime stay)",
        saveConfig.line,
      );
    }
  }

  const seenKeys = new Map<string, string>();
  const prefixesByPeer: { peer: string; prefix: IpPrefix; line: number }[] = [];
  peers.forEach((section, index) => {
    const peer = describePeer(section, index);
    const publicKey = first(section, "publickey");
    if (publicKey === undefined || publicKey.value === "") {
      sink.add(
        "medium",
        "wireguard.peer-key",
        `${peer} has no PublicKey (wg-quick refuses the file; a leftover peer?)`,
        section.line,
      );
    } else {
      const earlier = seenKeys.get(publicKey.value);
      if (earlier !== undefined) {
        sink.add(
          "medium",
          "wireguard.peer-duplicate",
          `${peer} repeats the PublicKey of ${earlier}; only one of them is used`,
          publicKey.line,
        );
      } else {
        seenKeys.set(publicKey.value, peer);
      }
      if (!WG_KEY.test(publicKey.value)) {
        sink.add(
          "info",
          "wireguard.peer-key",
          `${peer}: PublicKey is a placeholder, not a key`,
          publicKey.line,
        );
      }
    }

    const allowed = entries(section, "allowedips");
    const prefixes = allowed.flatMap((entry) =>
      entry.value
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== "")
        .map((part) => ({ part, line: entry.line })),
    );
    if (prefixes.length === 0) {
      sink.add(
        "low",
        "wireguard.peer-unused",
        `${peer} has no AllowedIPs: it can send nothing through the tunnel (unused?)`,
        section.line,
      );
    }
    for (const { part, line } of prefixes) {
      const prefix = parsePrefix(part);
      if (prefix === null) {
        sink.add(
          "medium",
          "wireguard.allowed-ips",
          `${peer}: AllowedIPs entry ${part} is not an address/prefix`,
          line,
        );
        continue;
      }
      if (prefix.bits === 0) {
        sink.add(
          "high",
          "wireguard.allowed-ips",
          `${peer}: AllowedIPs ${part} lets this peer send from (and receive for) any address; give it its VPN address only`,
          line,
        );
      } else if (
        (prefix.family === 4 && prefix.bits < 16) ||
        (prefix.family === 6 && prefix.bits < 48)
      ) {
        sink.add(
          "medium",
          "wireguard.allowed-ips",
          `${peer}: AllowedIPs ${part} is very broad for one peer`,
          line,
        );
      }
      for (const other of prefixesByPeer) {
        if (other.peer !== peer && overlaps(other.prefix, prefix)) {
          sink.add(
            "medium",
            "wireguard.allowed-ips",
            `${peer}: AllowedIPs ${part} overlaps ${other.prefix.text} of ${other.peer}; only one peer gets that traffic`,
            line,
          );
        }
      }
      prefixesByPeer.push({ peer, prefix, line });
    }

    const keepalive = first(section, "persistentkeepalive");
    if (keepalive === undefined) {
      sink.add(
        "low",
        "wireguard.keepalive",
        `${peer} has no PersistentKeepalive: behind NAT the tunnel goes quiet and drops`,
        section.line,
      );
    } else if (/^off$/i.test(keepalive.value) || keepalive.value === "0") {
      sink.add("low", "wireguard.keepalive", `${peer}: PersistentKeepalive is off`, keepalive.line);
    } else if (!/^\d+$/.test(keepalive.value)) {
      sink.add(
        "medium",
        "wireguard.keepalive",
        `${peer}: PersistentKeepalive ${keepalive.value} is not a number of seconds`,
        keepalive.line,
      );
    } else {
      const seconds = Number(keepalive.value);
      if (seconds < KEEPALIVE_MIN || seconds > KEEPALIVE_MAX) {
        sink.add(
          "low",
          "wireguard.keepalive",
          `${peer}: PersistentKeepalive ${seconds}s is outside ${KEEPALIVE_MIN}-${KEEPALIVE_MAX}s (25 is usual)`,
          keepalive.line,
        );
      }
    }
    if (
      first(section, "presharedkey") === undefined &&
      !keyFiles(section, iface, dirname(path)).length
    ) {
      sink.add(
        "info",
        "wireguard.preshared-key",
        `${peer} has no PresharedKey (an extra symmetric layer against future quantum attacks)`,
        section.line,
      );
    }
  });
  if (peers.length === 0 && interfaces.length > 0) {
    sink.add("info", "wireguard.peers", "no [Peer] sections");
  }
  return sink.findings;
}

/** The `ListenPort`s of a WireGuard config (udp ports the firewall must let in). */
export function wireguardListenPorts(path: string): number[] {
  try {
    return parseWireGuardConfig(readFileSync(path, "utf8"))
      .filter(isInterface)
      .flatMap((section) => entries(section, "listenport"))
      .map((entry) => Number(entry.value))
      .filter((port) => Number.isInteger(port) && port > 0 && port < 65536);
  } catch {
    return [];
  }
}
