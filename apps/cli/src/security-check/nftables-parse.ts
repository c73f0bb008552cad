/** A tolerant reader of `nft -f` ruleset text: tables, chains, sets, rules, `define`s. */

export interface NftToken {
  text: string;
  line: number;
  /** Written in double quotes (`iifname "wg0"`). */
  quoted?: boolean;
}

export interface NftRule {
  tokens: string[];
  line: number;
}

export interface NftChain {
  name: string;
  line: number;
  type?: string;
  hook?: string;
  policy?: string;
  rules: NftRule[];
}

export interface NftSet {
  name: string;
  elements: string[];
  /** `flags dynamic` or elements added at run time: the file does not say what it holds. */
  dynamic: boolean;
}

export interface NftTable {
  family: string;
  name: string;
  line: number;
  chains: Map<string, NftChain>;
  sets: Map<string, NftSet>;
}

export interface NftRuleset {
  tables: NftTable[];
  includes: { path: string; line: number }[];
}

const FAMILIES = new Set(["ip", "ip6", "inet", "arp", "bridge", "netdev"]);
const TABLE_OBJECTS = new Set([
  "chain",
  "set",
  "map",
  "flowtable",
  "counter",
  "quota",
  "limit",
  "ct",
  "secmark",
  "synproxy",
]);

export function tokenize(text: string): NftToken[] {
  const tokens: NftToken[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? "";
    if (ch === "\n") {
      tokens.push({ text: "\n", line });
      line++;
      i++;
    } else if (ch === "\\" && text[i + 1] === "\n") {
      line++;
      i += 2;
    } else if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (/\s/.test(ch)) {
      i++;
    } else if (ch === '"') {
      const end = text.indexOf('"', i + 1);
      const stop = end === -1 ? text.length : end;
      tokens.push({ text: text.slice(i + 1, stop), line, quoted: true });
      i = stop + 1;
    } else if ("{};,".includes(ch)) {
      tokens.push({ text: ch, line });
      i++;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};,"#]/.test(text[j] ?? "")) j++;
      tokens.push({ text: text.slice(i, j), line });
      i = j;
    }
  }
  return tokens;
}

type Context =
  | { kind: "top" }
  | { kind: "table"; table: NftTable }
  | { kind: "chain"; chain: NftChain }
  | { kind: "set"; set: NftSet };

export function parseNftRuleset(text: string): NftRuleset {
  const tokens = tokenize(text);
  const ruleset: NftRuleset = { tables: [], includes: [] };
  const defines = new Map<string, NftToken[]>();
  let pos = 0;

  const tableFor = (family: string, name: string, line: number): NftTable => {
    const existing = ruleset.tables.find((t) => t.family === family && t.name === name);
    if (existing) return existing;
    const table: NftTable = { family, name, line, chains: new Map(), sets: new Map() };
    ruleset.tables.push(table);
    return table;
  };
  const chainFor = (table: NftTable, name: string, line: number): NftChain => {
    const existing = table.chains.get(name);
    if (existing) return existing;
    const chain: NftChain = { name, line, rules: [] };
    table.chains.set(name, chain);
    return chain;
  };
  const setFor = (table: NftTable, name: string): NftSet => {
    const existing = table.sets.get(name);
    if (existing) return existing;
    const set: NftSet = { name, elements: [], dynamic: false };
    table.sets.set(name, set);
    return set;
  };
  /** `[family] table` → family defaults to ip, as in nft. */
  const familyAndName = (words: string[]): { family: string; rest: string[] } => {
    const [a = "", ...rest] = words;
    return FAMILIES.has(a) ? { family: a, rest } : { family: "ip", rest: words };
  };

  const expand = (token: NftToken, depth = 0): NftToken[] => {
    if (!token.quoted && token.text.startsWith("$") && depth < 10) {
      const value = defines.get(token.text.slice(1));
      if (value) return value.flatMap((t) => expand({ ...t, line: token.line }, depth + 1));
    }
    return [token];
  };

  const opensBlock = (context: Context, statement: NftToken[]): boolean => {
    const [a = "", b = ""] = statement.map((t) => t.text);
    if (context.kind === "top") {
      return (
        a === "table" ||
        (["add", "create"].includes(a) && ["table", "chain", "set", "map"].includes(b))
      );
    }
    return context.kind === "table" && TABLE_OBJECTS.has(a);
  };

  const setElements = (words: string[]): string[] =>
    words.filter((w) => !["{", "}", ",", "=", "elements"].includes(w));

  const parseBlock = (context: Context): void => {
    while (pos < tokens.length) {
      const token = tokens[pos];
      if (token === undefined) return;
      if (token.text === "\n" || token.text === ";") {
        pos++;
        continue;
      }
      if (token.text === "}") {
        pos++;
        if (context.kind !== "top") return;
        continue;
      }
      const statement: NftToken[] = [];
      let depth = 0;
      let child: Context | null = null;
      while (pos < tokens.length) {
        const t = tokens[pos];
        if (t === undefined) break;
        if (depth === 0 && (t.text === "\n" || t.text === ";")) break;
        if (t.text === "}" && depth === 0) break;
        if (t.text === "{") {
          if (depth === 0 && opensBlock(context, statement)) {
            pos++;
            child = blockContext(context, statement);
            break;
          }
          depth++;
        } else if (t.text === "}") {
          depth--;
        }
        if (t.text === "\n" && depth > 0) {
          pos++;
          continue;
        }
        statement.push(...(t.text.startsWith("$") ? expand(t) : [t]));
        pos++;
      }
      if (child !== null) {
        parseBlock(child);
        continue;
      }
      if (statement.length > 0) handleStatement(context, statement);
    }
  };

  const blockContext = (context: Context, statement: NftToken[]): Context => {
    const words = statement.map((t) => t.text);
    const line = statement[0]?.line ?? 0;
    if (context.kind === "top") {
      const object = words[0] === "table" ? "table" : (words[1] ?? "");
      const { family, rest } = familyAndName(words.slice(words[0] === "table" ? 1 : 2));
      const table = tableFor(family, rest[0] ?? "", line);
      if (object === "table") return { kind: "table", table };
      if (object === "chain") return { kind: "chain", chain: chainFor(table, rest[1] ?? "", line) };
      return { kind: "set", set: setFor(table, rest[1] ?? "") };
    }
    if (context.kind === "table") {
      const [object = "", name = ""] = words;
      if (object === "chain") return { kind: "chain", chain: chainFor(context.table, name, line) };
      if (object === "set" || object === "map")
        return { kind: "set", set: setFor(context.table, name) };
      return { kind: "set", set: { name: "", elements: [], dynamic: false } };
    }
    return context;
  };

  const handleStatement = (context: Context, statement: NftToken[]): void => {
    const words = statement.map((t) => t.text);
    const line = statement[0]?.line ?? 0;
    const [a = "", b = ""] = words;
    if (a === "define" || a === "redefine") {
      const eq = words.indexOf("=");
      defines.set(
        b,
        statement.slice(eq + 1).flatMap((t) => expand(t)),
      );
      return;
    }
    if (a === "include") {
      ruleset.includes.push({ path: b, line });
      return;
    }
    if (context.kind === "top") {
      if ((a === "add" || a === "insert") && b === "rule") {
        const { family, rest } = familyAndName(words.slice(2));
        const table = tableFor(family, rest[0] ?? "", line);
        const chain = chainFor(table, rest[1] ?? "", line);
        const rule = { tokens: rest.slice(2), line };
        if (a === "insert") chain.rules.unshift(rule);
        else chain.rules.push(rule);
      } else if (a === "add" && b === "element") {
        const { family, rest } = familyAndName(words.slice(2));
        setFor(tableFor(family, rest[0] ?? "", line), rest[1] ?? "").elements.push(
          ...setElements(rest.slice(2)),
        );
      } else if ((a === "add" || a === "create") && b === "table") {
        const { family, rest } = familyAndName(words.slice(2));
        tableFor(family, rest[0] ?? "", line);
      }
      return;
    }
    if (context.kind === "chain") {
      const chain = context.chain;
      if (a === "type") {
        chain.type = b;
        const hook = words.indexOf("hook");
        if (hook >= 0) chain.hook = words[hook + 1];
        const policy = words.indexOf("policy");
        if (policy >= 0) chain.policy = words[policy + 1];
      } else if (a === "policy") {
        chain.policy = b;
      } else if (a !== "comment") {
        chain.rules.push({ tokens: words, line });
      }
      return;
    }
    if (context.kind === "set") {
      if (a === "elements") context.set.elements.push(...setElements(words));
      if (a === "flags" && words.includes("dynamic")) context.set.dynamic = true;
    }
  };

  parseBlock({ kind: "top" });
  return ruleset;
}
