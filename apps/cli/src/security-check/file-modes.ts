import { statSync } from "node:fs";
import { dirname } from "node:path";
import type { FindingSink } from "./findings.ts";

export interface FileMode {
  /** Permission bits, e.g. 0o600. */
  mode: number;
  groupReadable: boolean;
  worldReadable: boolean;
  groupWritable: boolean;
  worldWritable: boolean;
  /** Sticky bit (directories like /tmp: only a file's owner may replace it). */
  sticky: boolean;
  size: number;
}

/** The file's permissions (symlinks followed), or null when it cannot be stat'ed. */
export function fileMode(path: string): FileMode | null {
  try {
    const stat = statSync(path);
    const mode = stat.mode & 0o777;
    return {
      mode,
      groupReadable: (mode & 0o040) !== 0,
      worldReadable: (mode & 0o004) !== 0,
      groupWritable: (mode & 0o020) !== 0,
      worldWritable: (mode & 0o002) !== 0,
      sticky: (stat.mode & 0o1000) !== 0,
      size: stat.size,
    };
  } catch {
    return null;
  }
}

export function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}

/**
 * A file that holds a secret (a key, a client secret): readable by others → critical, by its
 * group → high; writable by others → high (whoever can replace it controls the secret).
 */
export function checkSecretFileMode(
  sink: FindingSink,
  path: string,
  what: string,
  check = "secret.permissions",
): FileMode | null {
  const mode = fileMode(path);
  if (mode === null) {
    sink.add("medium", check, `${what} ${path} is missing or unreadable by this user`);
    return null;
  }
  if (mode.worldReadable) {
    sink.add(
      "critical",
      check,
      `${what} ${path} is world-readable (mode ${octal(mode.mode)}); chmod 600`,
    );
  } else if (mode.groupReadable) {
    sink.add(
      "high",
      check,
      `${what} ${path} is group-readable (mode ${octal(mode.mode)}); chmod 600`,
    );
  }
  if (mode.worldWritable || mode.groupWritable) {
    sink.add(
      "high",
      check,
      `${what} ${path} is writable by ${mode.worldWritable ? "everyone" : "its group"} (mode ${octal(mode.mode)})`,
    );
  }
  const dir = fileMode(dirname(path));
  if (dir?.worldWritable && !dir.sticky) {
    sink.add(
      "medium",
      check,
      `${what} ${path} lives in a world-writable directory; anyone can replace it`,
    );
  }
  return mode;
}
