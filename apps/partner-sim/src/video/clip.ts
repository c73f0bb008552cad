import { fileURLToPath } from "node:url";
import { type IvfFile, IvfFormatError, readIvfFile } from "./ivf.ts";

/** RTP clock rate of video (RFC 7741 §6.1: VP8 uses 90 kHz). */
export const VIDEO_CLOCK_RATE = 90_000;

export const DEFAULT_CLIP_PATH = fileURLToPath(new URL("../../fixtures/clip.ivf", import.meta.url));

export interface ClipFrame {
  /** Offset from the start of the loop, in 90 kHz ticks. */
  offset90k: number;
  data: Buffer;
  keyframe: boolean;
}

/** A VP8 clip ready to loop: frames with their 90 kHz offsets and the length of one loop. */
export interface VideoClip {
  width: number;
  height: number;
  frames: ClipFrame[];
  /** One pass through the clip, in 90 kHz ticks (last frame's offset + one frame duration). */
  loop90k: number;
}

/** VP8 frame tag (RFC 6386 §9.1): bit 0 of the first byte is 0 on a key frame. */
function isVp8Keyframe(data: Buffer): boolean {
  return data.length > 0 && ((data[0] ?? 1) & 0x01) === 0;
}

/** Turns a parsed IVF file into a loopable VP8 clip; throws `IvfFormatError` if it cannot loop. */
export function toVideoClip(ivf: IvfFile): VideoClip {
  const { header, frames } = ivf;
  if (header.fourcc !== "VP80") {
    throw new IvfFormatError(`video clip must be VP8 (VP80), not ${JSON.stringify(header.fourcc)}`);
  }
  const first = frames[0];
  const last = frames.at(-1);
  if (!first || !last) throw new IvfFormatError("IVF file has no frames");
  if (!isVp8Keyframe(first.data)) {
    throw new IvfFormatError("video clip must start with a key frame");
  }
  const ticksPerUnit = (VIDEO_CLOCK_RATE * header.timebaseNumerator) / header.timebaseDenominator;
  const toTicks = (pts: number) => Math.round((pts - first.pts) * ticksPerUnit);
  // The last frame lasts as long as the average frame, so the loop keeps the clip's rhythm.
  const frameUnits = frames.length > 1 ? (last.pts - first.pts) / (frames.length - 1) : 1;
  const loop90k = Math.round((last.pts - first.pts + frameUnits) * ticksPerUnit);
  if (loop90k <= 0) throw new IvfFormatError("video clip has no duration");
  return {
    width: header.width,
    height: header.height,
    frames: frames.map((frame) => ({
      offset90k: toTicks(frame.pts),
      data: frame.data,
      keyframe: isVp8Keyframe(frame.data),
    })),
    loop90k,
  };
}

export function loadVideoClip(path: string = DEFAULT_CLIP_PATH): VideoClip {
  try {
    return toVideoClip(readIvfFile(path));
  } catch (error) {
    if (error instanceof IvfFormatError) {
      throw new IvfFormatError(`video clip ${path}: ${error.message}`);
    }
    throw error;
  }
}
