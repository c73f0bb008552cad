import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, stdoutByTurn } from "../src/logger.ts";

const dir = mkdtempSync(join(tmpdir(), "propgate-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A logger over `stdoutByTurn` writing to a file, and the file's lines as read now. */
function fileLogger(name: string) {
  const file = join(dir, name);
  const fd = openSync(file, "w");
  const destination = stdoutByTurn(fd);
  const logger = createLogger({ name: "test", destination });
  const lines = () =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string; n: number });
  return { logger, destination, lines, close: () => closeSync(fd) };
}

describe("stdout by event-loop turn", () => {
  test("the lines of one turn are written together when it ends, in order", async () => {
    const log = fileLogger("turn.log");
    for (let n = 0; n < 50; n++) log.logger.info({ n }, "request");
    expect(log.lines()).toHaveLength(0); // held until the turn ends
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.lines().map((line) => line.n)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    log.close();
  });

  test("flush writes what is held at once (a stop), and nothing twice", async () => {
    const log = fileLogger("flush.log");
    log.logger.info({ n: 1 }, "held");
    log.destination.flush();
    expect(log.lines().map((line) => line.msg)).toEqual(["held"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.lines()).toHaveLength(1);
    log.close();
  });
});
