import { randomBytes } from "node:crypto";
import { type MediaStreamTrack, Vp8Packetizer } from "werift";
import { VIDEO_CLOCK_RATE, type VideoClip } from "./clip.ts";

const UINT32 = 2 ** 32;
/** Further behind than this (a blocked event loop), the pump skips ahead instead of bursting. */
const MAX_LAG_MS = 500;

export interface MediaPump {
  stop(): void;
}

export interface MediaPumpOptions {
  clip: VideoClip;
  track: MediaStreamTrack;
  /** The VP8 payload type negotiated in the answer. */
  payloadType: number;
  /** SSRC of the sender. */
  ssrc: number;
  /** Called after each frame is written, with the RTP bytes (headers + payload) it took. */
  onFrame(rtpBytes: number): void;
}

/**
 * Writes the clip to `track` as VP8 RTP, looped forever and paced in real time by the clip's
 * timestamps. It starts at frame 0 (a key frame); RTP timestamps start at a random value and
 * keep increasing across loops.
 */
export function startMediaPump(options: MediaPumpOptions): MediaPump {
  const { clip, track, onFrame } = options;
  const packetizer = new Vp8Packetizer({ payloadType: options.payloadType, ssrc: options.ssrc });
  const timestampBase = randomBytes(4).readUInt32BE(0);
  const count = clip.frames.length;
  const msPerTick = 1000 / VIDEO_CLOCK_RATE;
  let anchor = performance.now();
  let next = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  /** Media time of frame `index` (counted across loops) since the start, in 90 kHz ticks. */
  const ticksOf = (index: number) => {
    const frame = clip.frames[index % count];
    return Math.floor(index / count) * clip.loop90k + (frame?.offset90k ?? 0);
  };

  const send = (index: number) => {
    const frame = clip.frames[index % count];
    if (!frame) return;
    const timestamp = (timestampBase + (ticksOf(index) % UINT32)) % UINT32;
    let bytes = 0;
    for (const packet of packetizer.packetize(frame.data, timestamp)) {
      bytes += packet.serializeSize;
      track.writeRtp(packet);
    }
    onFrame(bytes);
  };

  const tick = () => {
    if (stopped) return;
    let elapsed = performance.now() - anchor;
    const lag = elapsed - ticksOf(next) * msPerTick;
    if (lag > MAX_LAG_MS) {
      anchor += lag;
      elapsed -= lag;
    }
    while (!stopped && ticksOf(next) * msPerTick <= elapsed) {
      send(next);
      next += 1;
    }
    if (stopped) return;
    const wait = ticksOf(next) * msPerTick - (performance.now() - anchor);
    timer = setTimeout(tick, Math.max(0, wait));
  };

  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
