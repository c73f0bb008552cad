import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MediaStreamTrack, type RtpPacket, Vp8RtpPayload } from "werift";
import { createPartnerSimApp } from "../src/index.ts";
import { DEFAULT_CLIP_PATH, loadVideoClip, toVideoClip } from "../src/video/clip.ts";
import { IvfFormatError, parseIvf } from "../src/video/ivf.ts";
import { type MediaPump, startMediaPump } from "../src/video/media-pump.ts";
import { DOOR_APP } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "partner-sim-ivf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** VP8 frame tags: bit 0 of the first byte is 0 on a key frame. */
const KEY = Buffer.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
const INTER = Buffer.from([0x31, 0x01, 0x00, 0xaa]);

function buildIvf(
  frames: { pts: number; data: Buffer }[],
  header: { fourcc?: string; rate?: number; scale?: number } = {},
): Buffer {
  const head = Buffer.alloc(32);
  head.write("DKIF", 0, "latin1");
  head.writeUInt16LE(0, 4);
  head.writeUInt16LE(32, 6);
  head.write(header.fourcc ?? "VP80", 8, "latin1");
  head.writeUInt16LE(320, 12);
  head.writeUInt16LE(240, 14);
  head.writeUInt32LE(header.rate ?? 15, 16);
  head.writeUInt32LE(header.scale ?? 1, 20);
  head.writeUInt32LE(frames.length, 24);
  const parts = frames.flatMap(({ pts, data }) => {
    const frameHead = Buffer.alloc(12);
    frameHead.writeUInt32LE(data.length, 0);
    frameHead.writeBigUInt64LE(BigInt(pts), 4);
    return [frameHead, data];
  });
  return Buffer.concat([head, ...parts]);
}

describe("IVF reader", () => {
  test("reads the committed clip: VP8 640x480, 15 fps, 4 s, a key frame every 15", () => {
    const clip = loadVideoClip(DEFAULT_CLIP_PATH);
    expect(clip).toMatchObject({ width: 640, height: 480, loop90k: 4 * 90_000 });
    expect(clip.frames).toHaveLength(60);
    expect(clip.frames[1]?.offset90k).toBe(6000);
    const keyframes = clip.frames.flatMap((frame, index) => (frame.keyframe ? [index] : []));
    expect(keyframes).toEqual([0, 15, 30, 45]);
  });

  test("a corrupt file is a clear error", () => {
    const good = [
      { pts: 0, data: KEY },
      { pts: 1, data: INTER },
    ];
    const valid = buildIvf(good);
    const cases: [Buffer, string][] = [
      [valid.subarray(0, 20), "shorter than its header"],
      [Buffer.concat([Buffer.from("RIFF"), valid.subarray(4)]), "DKIF"],
      [valid.subarray(0, valid.length - 2), "past the end"],
      [valid.subarray(0, 32 + 12 + KEY.length + 5), "truncated frame header"],
      [buildIvf([]), "no frames"],
      [buildIvf(good, { rate: 0 }), "timebase"],
      [buildIvf([{ pts: 0, data: Buffer.alloc(0) }]), "empty frame"],
      [buildIvf([...good, { pts: 1, data: INTER }]), "do not increase"],
    ];
    for (const [bytes, message] of cases) {
      expect(() => parseIvf(bytes)).toThrow(message);
    }
    expect(() => toVideoClip(parseIvf(buildIvf(good, { fourcc: "VP90" })))).toThrow("VP8");
    expect(() => toVideoClip(parseIvf(buildIvf([{ pts: 0, data: INTER }])))).toThrow("key frame");
  });

  test("a sim with cameras and a broken clip fails at startup, naming the file", async () => {
    const path = join(dir, "broken.ivf");
    writeFileSync(path, buildIvf([{ pts: 0, data: KEY }]).subarray(0, 40));
    const start = (videoClipPath: string) =>
      createPartnerSimApp({
        issuer: "http://127.0.0.1:9",
        clients: [DOOR_APP],
        cameras: ["cam-1"],
        videoClipPath,
      });
    const error = await start(path).then(
      () => null,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(IvfFormatError);
    expect((error as Error).message).toContain(path);
    await expect(start(join(dir, "missing.ivf"))).rejects.toThrow("cannot be read");
  });
});

describe("media pump", () => {
  test("loops the clip in real time with continuous RTP timestamps, starting on a key frame", async () => {
    // Three 10 ms frames: the pump goes round the loop twice in about 60 ms.
    const clip = toVideoClip(
      parseIvf(
        buildIvf(
          [
            { pts: 0, data: KEY },
            { pts: 1, data: INTER },
            { pts: 2, data: INTER },
          ],
          { rate: 100, scale: 1 },
        ),
      ),
    );
    expect(clip.loop90k).toBe(2700);
    const track = new MediaStreamTrack({ kind: "video" });
    const packets: RtpPacket[] = [];
    const frames = 7;
    let sent = 0;
    let bytes = 0;
    const started = performance.now();
    let pump: MediaPump | undefined;
    const done = new Promise<void>((resolve) => {
      track.onReceiveRtp.subscribe((packet) => {
        packets.push(packet);
        // Stopped here, not after the await: a pump running late sends its missed frames at once.
        if (packets.length === frames) {
          pump?.stop();
          resolve();
        }
      });
    });
    pump = startMediaPump({
      clip,
      track,
      payloadType: 101,
      ssrc: 1234,
      onFrame: (rtpBytes) => {
        sent += 1;
        bytes += rtpBytes;
      },
    });
    await done;
    expect(performance.now() - started).toBeGreaterThanOrEqual((frames - 1) * 10 - 2);
    expect(sent).toBe(frames);
    expect(bytes).toBe(packets.reduce((sum, packet) => sum + packet.serializeSize, 0));

    const first = packets[0];
    expect(first && Vp8RtpPayload.deSerialize(first.payload).isKeyframe).toBe(true);
    for (const [index, packet] of packets.entries()) {
      expect(packet.header).toMatchObject({ payloadType: 101, ssrc: 1234, marker: true });
      const previous = packets[index - 1];
      if (!previous) continue;
      expect((packet.header.timestamp - previous.header.timestamp) >>> 0).toBe(900);
      expect((packet.header.sequenceNumber - previous.header.sequenceNumber) & 0xffff).toBe(1);
      expect(Vp8RtpPayload.deSerialize(packet.payload).isKeyframe).toBe(index % 3 === 0);
    }
  });
});
