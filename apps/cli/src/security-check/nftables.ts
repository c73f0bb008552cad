import { readFileSync } from "node:fs";
import { type Finding, FindingSink } from "./findings.ts";
import { type NftChain, type NftTable, parseNftRuleset } from "./nftables-parse.ts";

export type Protocol = "tcp" | "udp";

/** The ports the host may accept new connections on, e.g. tcp 8443 (partner surface), udp 51820. */
export type AllowedPorts = Record<Protocol, Set<number>>;

export function allowedPortsFrom(specs: readonly string[]): AllowedPorts {
  const allowed: AllowedPorts = { tcp: new Set(), udp: new Set() };
  for (const spec of specs) {
    const match = /^(?:(tcp|udp)\/)?(\d{1,5})$/.exec(spec.trim());
    if (!match?.[2]) throw new Error(`--allow-port ${spec}: expected tcp/<port> or udp/<port>`);
    allowed[(match[1] as Protocol | undefined) ?? "tcp"].add(Number(match[2]));
  }
  return allowed;
}

export function describePorts(allowed: AllowedPorts): string {
  const list = (["tcp", "udp"] as const).flatMap((p) =>
    [...allowed[p]].sort((a, b) => a - b).map((n) => `${p}/${n}`),
  );
  return list.length > 0 ? list.join(", ") : "none";
}

const SERVICES: Record<string, number> = {
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  http: 80,
  ntp: 123,
  snmp: 161,
  https: 443,
  postgresql: 5432,
};

/** What the packets reaching a rule have already been matched on (through jumps too). */
interface Restrictions {
  ifaces: string[] | null;
  loopback: boolean;
  source: boolean;
  icmp: boolean;
  protocol: Protocol | null;
  ports: { protocol: Protocol | "any"; values: string[]; negated: boolean } | null;
  ctStates: string[] | null;
  sourcePortOnly: boolean;
}

const NONE: Restrictions = {
  ifaces: null,
  loopback: false,
  source: false,
  icmp: false,
  protocol: null,
  ports: null,
  ctStates: null,
  sourcePortOnly: false,
};

const VERDICTS = new Set([
  "accept",
  "drop",
  "reject",
  "jump",
  "goto",
  "return",
  "continue",
  "queue",
]);

interface Parsed {
  restrictions: Restrictions;
  verdict: { kind: string; target?: string } | null;
  /** `… dport vmap { 22 : accept, 8443 : jump partner }` / `ct state vmap { … }`. */
  vmap: { on: "port" | "ct"; entries: { key: string; verdict: string; target?: string }[] } | null;
  unconditional: boolean;
}

/** Values after a selector: `x`, `x,y`, `{ x, y }`, with a leading `!=` for negation. */
function readValues(
  tokens: string[],
  start: number,
): { values: string[]; negated: boolean; next: number } {
  let i = start;
  let negated = false;
  if (tokens[i] === "!=" || tokens[i] === "!") {
    negated = true;
    i++;
  }
  const values: string[] = [];
  if (tokens[i] === "{") {
    i++;
    while (i < tokens.length && tokens[i] !== "}") {
      const t = tokens[i] ?? "";
      if (t !== ",") values.push(t);
      i++;
    }
    return { values, negated, next: i + 1 };
  }
  values.push(tokens[i] ?? "");
  i++;
  while (tokens[i] === "," && i + 1 < tokens.length) {
    values.push(tokens[i + 1] ?? "");
    i += 2;
  }
  return { values, negated, next: i };
}

function readVmap(
  tokens: string[],
  start: number,
): { entries: { key: string; verdict: string; target?: string }[]; next: number } {
  const entries: { key: string; verdict: string; target?: string }[] = [];
  let i = start;
  if (tokens[i] !== "{") return { entries, next: i };
  i++;
  let group: string[] = [];
  const flush = () => {
    const colon = group.indexOf(":");
    if (colon > 0) {
      const verdict = group[colon + 1] ?? "";
      const target = group[colon + 2];
      entries.push({
        key: group.slice(0, colon).join(" "),
        verdict,
        ...(target ? { target } : {}),
      });
    }
    group = [];
  };
  while (i < tokens.length && tokens[i] !== "}") {
    const t = tokens[i] ?? "";
    if (t === ",") flush();
    else group.push(...(t.endsWith(":") && t.length > 1 ? [t.slice(0, -1), ":"] : [t]));
    i++;
  }
  flush();
  return { entries, next: i + 1 };
}

function parseRule(tokens: string[]): Parsed {
  const r: Restrictions = { ...NONE };
  let verdict: Parsed["verdict"] = null;
  let vmap: Parsed["vmap"] = null;
  let matches = 0;
  for (let i = 0; i < tokens.length; ) {
    const t = tokens[i] ?? "";
    const next = tokens[i + 1] ?? "";
    if (t === "meta" && ["iif", "iifname", "l4proto", "oif", "oifname"].includes(next)) {
      i++;
      continue;
    }
    if (t === "iif" || t === "iifname") {
      const v = readValues(tokens, i + 1);
      matches++;
      if (!v.negated && v.values.every((x) => x === "lo")) r.loopback = true;
      else r.ifaces = v.negated ? v.values.map((x) => `!${x}`) : v.values;
      i = v.next;
    } else if ((t === "ip" || t === "ip6") && (next === "saddr" || next === "daddr")) {
      const v = readValues(tokens, i + 2);
      matches++;
      if (next === "saddr") {
        if (
          !v.negated &&
          v.values.every((x) => x === "127.0.0.1" || x === "::1" || x.startsWith("127.0.0.0/"))
        )
          r.loopback = true;
        else r.source = true;
      }
      i = v.next;
    } else if (
      (t === "ip" && next === "protocol") ||
      (t === "ip6" && next === "nexthdr") ||
      t === "l4proto"
    ) {
      const v = readValues(tokens, i + (t === "l4proto" ? 1 : 2));
      matches++;
      if (
        v.values.every((x) => ["icmp", "icmpv6", "ipv6-icmp", "1", "58"].includes(x)) &&
        !v.negated
      )
        r.icmp = true;
      else if (
        v.values.length === 1 &&
        (v.values[0] === "tcp" || v.values[0] === "udp") &&
        !v.negated
      )
        r.protocol = v.values[0];
      i = v.next;
    } else if ((t === "icmp" || t === "icmpv6") && next === "type") {
      const v = readValues(tokens, i + 2);
      matches++;
      r.icmp = true;
      i = v.next;
    } else if (
      ["tcp", "udp", "th", "sctp", "dccp", "udplite"].includes(t) &&
      (next === "dport" || next === "sport")
    ) {
      matches++;
      const protocol: Protocol | "any" =
        t === "tcp" || t === "udp" ? t : t === "th" ? (r.protocol ?? "any") : "any";
      if (next === "sport") {
        const v = readValues(tokens, i + 2);
        if (r.ports === null) r.sourcePortOnly = true;
        i = v.next;
      } else if (tokens[i + 2] === "vmap") {
        const m = readVmap(tokens, i + 3);
        vmap = { on: "port", entries: m.entries };
        r.ports = { protocol, values: [], negated: false };
        i = m.next;
      } else {
        const v = readValues(tokens, i + 2);
        r.ports = { protocol, values: v.values, negated: v.negated };
        r.sourcePortOnly = false;
        i = v.next;
      }
    } else if (t === "ct" && next === "state") {
      matches++;
      if (tokens[i + 2] === "vmap") {
        const m = readVmap(tokens, i + 3);
        vmap = { on: "ct", entries: m.entries };
        i = m.next;
      } else {
        const v = readValues(tokens, i + 2);
        r.ctStates = v.negated ? ["!"] : v.values;
        i = v.next;
      }
    } else if (VERDICTS.has(t)) {
      verdict = { kind: t, ...(t === "jump" || t === "goto" ? { target: next } : {}) };
      i += t === "jump" || t === "goto" ? 2 : 1;
    } else if (
      ["counter", "log", "limit", "comment", "notrack", "meta", "ct", "mark"].includes(t)
    ) {
      // Statements and matches that do not narrow which ports are reachable in a way we track.
      if (t === "ct" || t === "meta" || t === "mark") matches++;
      i++;
    } else {
      i++;
    }
  }
  return { restrictions: r, verdict, vmap, unconditional: matches === 0 };
}

function merge(outer: Restrictions, inner: Restrictions): Restrictions {
  return {
    ifaces: inner.ifaces ?? outer.ifaces,
    loopback: outer.loopback || inner.loopback,
    source: outer.source || inner.source,
    icmp: outer.icmp || inner.icmp,
    protocol: inner.protocol ?? outer.protocol,
    ports: inner.ports ?? outer.ports,
    ctStates: inner.ctStates ?? outer.ctStates,
    sourcePortOnly:
      outer.ports === null &&
      inner.ports === null &&
      (outer.sourcePortOnly || inner.sourcePortOnly),
  };
}

function portRange(
  value: string,
  table: NftTable,
): { from: number; to: number; text: string }[] | null {
  if (value.startsWith("@")) {
    const set = table.sets.get(value.slice(1));
    if (set === undefined || set.dynamic) return null;
    const out: { from: number; to: number; text: string }[] = [];
    for (const element of set.elements) {
      const r = portRange(element, table);
      if (r === null) return null;
      out.push(...r);
    }
    return out;
  }
  const range = /^(\d+)-(\d+)$/.exec(value);
  if (range) return [{ from: Number(range[1]), to: Number(range[2]), text: value }];
  if (/^\d+$/.test(value)) return [{ from: Number(value), to: Number(value), text: value }];
  const service = SERVICES[value];
  return service === undefined
    ? null
    : [{ from: service, to: service, text: `${value} (${service})` }];
}

interface InputState {
  established: boolean;
  related: boolean;
}

function describeScope(r: Restrictions): string {
  const parts: string[] = [];
  if (r.ifaces) parts.push(`iifname ${r.ifaces.join(",")}`);
  if (r.source) parts.push("a source address match");
  if (r.protocol) parts.push(r.protocol);
  return parts.length > 0 ? parts.join(" + ") : "anywhere";
}

/** Walks an input chain (and the chains it jumps to) and reports what it accepts. */
function walkChain(
  sink: FindingSink,
  table: NftTable,
  chain: NftChain,
  inherited: Restrictions,
  allowed: AllowedPorts,
  state: InputState,
  path: string[],
): void {
  if (path.includes(chain.name) || path.length > 16) return;
  const here = [...path, chain.name];
  for (const rule of chain.rules) {
    const parsed = parseRule(rule.tokens);
    const r = merge(inherited, parsed.restrictions);
    if (parsed.vmap?.on === "ct") {
      for (const entry of parsed.vmap.entries) {
        if (entry.verdict !== "accept") continue;
        judgeAccept(sink, table, { ...r, ctStates: [entry.key] }, allowed, state, rule.line);
      }
      continue;
    }
    if (parsed.vmap?.on === "port") {
      for (const entry of parsed.vmap.entries) {
        const scoped: Restrictions = {
          ...r,
          ports: { protocol: r.ports?.protocol ?? "any", values: [entry.key], negated: false },
        };
        if (entry.verdict === "accept") judgeAccept(sink, table, scoped, allowed, state, rule.line);
        if ((entry.verdict === "jump" || entry.verdict === "goto") && entry.target) {
          const target = table.chains.get(entry.target);
          if (target) walkChain(sink, table, target, scoped, allowed, state, here);
        }
      }
      continue;
    }
    if (parsed.verdict?.kind === "accept") {
      judgeAccept(sink, table, r, allowed, state, rule.line);
    } else if (
      (parsed.verdict?.kind === "jump" || parsed.verdict?.kind === "goto") &&
      parsed.verdict.target
    ) {
      const target = table.chains.get(parsed.verdict.target);
      if (target === undefined) {
        sink.add(
          "medium",
          "nftables.chain",
          `jump to unknown chain ${parsed.verdict.target}`,
          rule.line,
        );
      } else {
        walkChain(sink, table, target, r, allowed, state, here);
      }
    }
  }
}

function judgeAccept(
  sink: FindingSink,
  table: NftTable,
  r: Restrictions,
  allowed: AllowedPorts,
  state: InputState,
  line: number,
): void {
  if (r.ctStates && !r.ctStates.includes("!")) {
    const states = r.ctStates;
    if (states.includes("established")) state.established = true;
    if (states.includes("related")) state.related = true;
    if (states.includes("invalid")) {
      sink.add("high", "nftables.accept", "accepts packets in ct state invalid", line);
    }
    // Only `new` (or untracked) packets open anything; the rest is judged by the lines above.
    if (!states.some((s) => s === "new" || s === "untracked")) return;
  }
  if (r.loopback || r.icmp) return;
  if (r.ports === null) {
    if (r.sourcePortOnly) {
      sink.add(
        "high",
        "nftables.accept",
        `accepts by source port only (${describeScope(r)}): any destination port is reachable`,
        line,
      );
    } else if (r.ifaces === null && !r.source && r.protocol === null) {
      sink.add(
        "critical",
        "nftables.accept",
        "blanket accept: every packet that reaches this rule is let in",
        line,
      );
    } else {
      sink.add(
        "high",
        "nftables.accept",
        `accepts every port from ${describeScope(r)}; accept only the listed ports`,
        line,
      );
    }
    return;
  }
  const protocols: Protocol[] = r.ports.protocol === "any" ? ["tcp", "udp"] : [r.ports.protocol];
  if (r.ports.negated) {
    sink.add(
      "high",
      "nftables.accept",
      `accepts every ${protocols.join("/")} port except ${r.ports.values.join(", ")}`,
      line,
    );
    return;
  }
  for (const value of r.ports.values) {
    const ranges = portRange(value, table);
    if (ranges === null) {
      sink.add(
        "high",
        "nftables.accept",
        `accepts ${protocols.join("/")} port ${value}, which cannot be resolved from this file`,
        line,
      );
      continue;
    }
    for (const range of ranges) {
      for (const protocol of protocols) {
        const outside: number[] = [];
        for (let port = range.from; port <= range.to && outside.length < 5; port++) {
          if (!allowed[protocol].has(port)) outside.push(port);
        }
        if (outside.length > 0) {
          sink.add(
            "high",
            "nftables.accept",
            `accepts ${protocol} port ${range.text}, not in the allowed list (${describePorts(allowed)})`,
            line,
          );
        } else if (protocol === "tcp" && r.ifaces === null && !r.source) {
          sink.add(
            "medium",
            "nftables.scope",
            `tcp port ${range.text} is accepted on every interface; restrict it to the VPN (iifname, ip saddr)`,
            line,
          );
        } else {
          sink.add(
            "info",
            "nftables.accept",
            `accepts ${protocol}/${range.text} from ${describeScope(r)}`,
            line,
          );
        }
      }
    }
  }
}

/** Audits an nftables ruleset file against the ports the host should expose. */
export function checkNftablesFile(path: string, allowed: AllowedPorts): Finding[] {
  const sink = new FindingSink(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    sink.add("medium", "nftables.readable", `cannot read ${path}`);
    return sink.findings;
  }
  const ruleset = parseNftRuleset(text);
  for (const include of ruleset.includes) {
    sink.add(
      "info",
      "nftables.include",
      `include ${include.path} is not followed; check it separately`,
      include.line,
    );
  }
  const inputs: { table: NftTable; chain: NftChain }[] = [];
  for (const table of ruleset.tables) {
    for (const chain of table.chains.values()) {
      if (chain.hook === "input") inputs.push({ table, chain });
      if (chain.hook === "forward" && (chain.policy ?? "accept") === "accept") {
        sink.add(
          "low",
          "nftables.forward",
          `forward chain ${table.family} ${table.name} ${chain.name} accepts by default; if this host forwards, traffic passes unfiltered`,
          chain.line,
        );
      }
    }
  }
  if (inputs.length === 0) {
    sink.add(
      "high",
      "nftables.input",
      "no chain on the input hook: inbound traffic is not filtered",
    );
    return sink.findings;
  }
  const families = new Set(inputs.map((i) => i.table.family));
  if (!families.has("inet") && !families.has("ip6")) {
    sink.add(
      "medium",
      "nftables.ipv6",
      "only `table ip` filters input: IPv6 is not filtered (use `table inet`)",
    );
  }
  if (!families.has("inet") && !families.has("ip")) {
    sink.add(
      "medium",
      "nftables.ipv4",
      "only `table ip6` filters input: IPv4 is not filtered (use `table inet`)",
    );
  }
  for (const { table, chain } of inputs) {
    const where = `${table.family} ${table.name} ${chain.name}`;
    const policy = chain.policy ?? "accept";
    if (policy === "drop") {
      sink.add("info", "nftables.policy", `input chain ${where}: policy drop`, chain.line);
    } else {
      const last = chain.rules.at(-1);
      const lastParsed = last ? parseRule(last.tokens) : null;
      const finalDrop =
        lastParsed?.unconditional === true &&
        (lastParsed.verdict?.kind === "drop" || lastParsed.verdict?.kind === "reject");
      if (finalDrop) {
        sink.add(
          "low",
          "nftables.policy",
          `input chain ${where}: policy ${policy}, saved by a final drop rule; prefer policy drop`,
          chain.line,
        );
      } else {
        sink.add(
          "critical",
          "nftables.policy",
          `input chain ${where}: policy ${policy}; whatever no rule drops gets in (use policy drop)`,
          chain.line,
        );
      }
    }
    const state: InputState = { established: false, related: false };
    walkChain(sink, table, chain, NONE, allowed, state, []);
    if (!state.established) {
      sink.add(
        "medium",
        "nftables.established",
        `input chain ${where} has no \`ct state established,related accept\``,
        chain.line,
      );
    } else if (!state.related) {
      sink.add(
        "low",
        "nftables.established",
        `input chain ${where} accepts established but not related (ICMP errors for our own connections are dropped)`,
        chain.line,
      );
    }
  }
  return sink.findings;
}
