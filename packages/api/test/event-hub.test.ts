import { describe, expect, test } from "bun:test";
import { ServiceUnavailableError } from "../src/errors.ts";
import { createResidentEventHub } from "../src/events/event-hub.ts";
import { eventually } from "./fixtures/eventually.ts";

interface Row {
  seq: number;
  userId: string;
}

/** A journal in memory; `hold` keeps reads waiting until released, to race notices with them. */
function memoryJournal() {
  const rows: Row[] = [];
  let gate: Promise<void> | null = null;
  let reads = 0;
  let latestReads = 0;
  return {
    get latestReads() {
      return latestReads;
    },
    async latestSeq(userId: string) {
      latestReads++;
      return Math.max(0, ...rows.filter((row) => row.userId === userId).map((row) => row.seq));
    },
    rows,
    get reads() {
      return reads;
    },
    /** A row committed (visible to reads), not announced. */
    commit(userId: string, seq: number) {
      rows.push({ userId, seq });
    },
    hold() {
      let release = () => {};
      gate = new Promise<void>((resolve) => {
        release = () => {
          gate = null;
          resolve();
        };
      });
      return release;
    },
    async readSince(userId: string, afterSeq: number, limit: number) {
      reads++;
      const visible = rows
        .filter((row) => row.userId === userId && row.seq > afterSeq)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit);
      if (gate) await gate;
      return visible;
    },
  };
}

/** Collects what a stream yields, in the background. */
function collect(stream: AsyncGenerator<Row, void>) {
  const got: number[] = [];
  const done = (async () => {
    for await (const row of stream) got.push(row.seq);
  })();
  return { got, done };
}

const hubOf = (journal: ReturnType<typeof memoryJournal>, batch = 100) =>
  createResidentEventHub<Row>({
    readSince: journal.readSince,
    latestSeq: journal.latestSeq,
    maxStreamsPerResident: 2,
    maxStreams: 3,
    batch,
  });

describe("resident event hub", () => {
  test("resumes after the given seq, then sends what is announced, each seq once", async () => {
    const journal = memoryJournal();
    for (const seq of [1, 2, 3]) journal.commit("u1", seq);
    const hub = hubOf(journal, 2);
    const abort = new AbortController();
    const stream = collect(hub.open("u1", 1, { signal: abort.signal }));
    await eventually("the rows after seq 1", () => stream.got.length === 2, 1000);
    journal.commit("u2", 4);
    hub.notify({ userId: "u2", seq: 4 });
    journal.commit("u1", 5);
    hub.notify({ userId: "u1", seq: 5 });
    hub.notify({ userId: "u1", seq: 5 });
    await eventually("the announced row", () => stream.got.length === 3, 1000);
    abort.abort();
    await stream.done;
    expect(stream.got).toEqual([2, 3, 5]);
    expect(hub.openStreams).toBe(0);
  });

  test("a notice during the resume read is not lost, and sends nothing twice", async () => {
    const journal = memoryJournal();
    journal.commit("u1", 1);
    const hub = hubOf(journal);
    const release = journal.hold();
    const abort = new AbortController();
    const stream = collect(hub.open("u1", 0, { signal: abort.signal }));
    await eventually("the resume read started", () => journal.reads === 1, 1000);
    journal.commit("u1", 2);
    hub.notify({ userId: "u1", seq: 2 });
    release();
    await eventually("both rows", () => stream.got.length === 2, 1000);
    abort.abort();
    await stream.done;
    expect(stream.got).toEqual([1, 2]);
  });

  test("a row committed late below the last sent seq is still sent, once", async () => {
    const journal = memoryJournal();
    const hub = hubOf(journal);
    const abort = new AbortController();
    const stream = collect(hub.open("u1", 0, { signal: abort.signal }));
    await eventually("listening", () => journal.reads === 1, 1000);
    journal.commit("u1", 11);
    hub.notify({ userId: "u1", seq: 11 });
    await eventually("seq 11", () => stream.got.length === 1, 1000);
    journal.commit("u1", 10); // its transaction took the seq first and committed last
    hub.notify({ userId: "u1", seq: 10 });
    hub.notify({ userId: "u1", seq: 11 });
    await eventually("seq 10", () => stream.got.length === 2, 1000);
    await Bun.sleep(20);
    abort.abort();
    await stream.done;
    expect(stream.got).toEqual([11, 10]);
  });

  test("ending a resident's streams ends them with the error; others go on", async () => {
    const journal = memoryJournal();
    const hub = hubOf(journal);
    const mine = hub.open("u1", 0);
    const theirs = collect(hub.open("u2", 0));
    const ended = mine.next();
    await eventually("both open", () => hub.openStreams === 2, 1000);
    expect(hub.endResident("u1", new Error("revoked"))).toBe(1);
    await expect(ended).rejects.toThrow("revoked");
    journal.commit("u2", 1);
    hub.notify({ userId: "u2", seq: 1 });
    await eventually("the other resident's row", () => theirs.got.length === 1, 1000);
    hub.close(new ServiceUnavailableError("stopping", 1));
    await expect(theirs.done).rejects.toThrow("stopping");
    await expect(hub.open("u3", 0).next()).rejects.toThrow("stopping");
    expect(hub.openStreams).toBe(0);
  });

  test("refuses streams over the per-resident and the instance cap", async () => {
    const journal = memoryJournal();
    const hub = hubOf(journal);
    const streams = [hub.open("u1", 0), hub.open("u1", 0)];
    const pending = streams.map((stream) => stream.next().catch(() => null));
    await eventually("two open", () => hub.openStreams === 2, 1000);
    await expect(hub.open("u1", 0).next()).rejects.toMatchObject({ code: "RATE_LIMITED" });
    pending.push(
      hub
        .open("u2", 0)
        .next()
        .catch(() => null),
    );
    await eventually("three open", () => hub.openStreams === 3, 1000);
    await expect(hub.open("u3", 0).next()).rejects.toMatchObject({ code: "UNAVAILABLE" });
    hub.close(new Error("end"));
    await Promise.all(pending);
    expect(hub.openStreams).toBe(0);
  });

  test("without a resume point, only rows after the newest one at the start", async () => {
    const journal = memoryJournal();
    journal.commit("u1", 7);
    const hub = hubOf(journal);
    const abort = new AbortController();
    const stream = collect(hub.open("u1", null, { signal: abort.signal }));
    await eventually("started", () => journal.latestReads === 1, 1000);
    journal.commit("u1", 8);
    hub.notify({ userId: "u1", seq: 8 });
    await eventually("seq 8", () => stream.got.length === 1, 1000);
    abort.abort();
    await stream.done;
    expect(stream.got).toEqual([8]);
  });

  test("without a resume point, a row committed while the stream starts is sent, once", async () => {
    const journal = memoryJournal();
    journal.commit("u1", 7);
    const hub = hubOf(journal);
    const abort = new AbortController();
    // Committed and announced after the stream registered, before it reads the newest seq (which
    // then counts it): the subscriber was already listening, so it is theirs.
    const admit = async () => {
      journal.commit("u1", 8);
      hub.notify({ userId: "u1", seq: 8 });
    };
    const stream = collect(hub.open("u1", null, { signal: abort.signal, admit }));
    await eventually("seq 8", () => stream.got.length === 1, 1000);
    journal.commit("u1", 9);
    hub.notify({ userId: "u1", seq: 9 });
    hub.notify({ userId: "u1", seq: 8 }); // announced again: still once
    await eventually("seq 9", () => stream.got.length === 2, 1000);
    abort.abort();
    await stream.done;
    expect(stream.got).toEqual([8, 9]);
  });

  test("a refused admission leaves no stream behind", async () => {
    const journal = memoryJournal();
    const hub = hubOf(journal);
    const refused = hub.open("u1", 0, {
      admit: async () => {
        throw new Error("no consent");
      },
    });
    await expect(refused.next()).rejects.toThrow("no consent");
    expect(hub.openStreams).toBe(0);
  });
});
