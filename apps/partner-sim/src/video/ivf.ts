import { readFileSync } from "node:fs";

const FILE_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 12;

export interface IvfHeader {
  /** e.g. "VP80". */
  fourcc: string;
  width: number;
  height: number;
  /** Frame timestamps are in units of `timebaseNumerator / timebaseDenominator` seconds. */
  timebaseNumerator: number;
  timebaseDenominator: number;
  /** As the header states it; the frames actually read are authoritative. */
  declaredFrameCount: number;
}

export interface IvfFrame {
  /** Presentation timestamp in timebase units. */
  pts: number;
  data: Buffer;
}

export interface IvfFile {
  header: IvfHeader;
  frames: IvfFrame[];
}

export class IvfFormatError extends Error {
  override readonly name = "IvfFormatError";
}

/**
 * Parses an IVF file: a 32-byte header ("DKIF", version 0, header size 32, fourcc, width,
 * height, timebase denominator, numerator, frame count), then frames with a 12-byte header
 * (u32 size, u64 pts), all little-endian. Throws `IvfFormatError` on anything malformed.
 */
export function parseIvf(bytes: Uint8Array): IvfFile {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < FILE_HEADER_BYTES) {
    throw new IvfFormatError(`IVF file is ${buffer.length} bytes, shorter than its header`);
  }
  if (buffer.toString("latin1", 0, 4) !== "DKIF") {
    throw new IvfFormatError("not an IVF file (no DKIF signature)");
  }
  const version = buffer.readUInt16LE(4);
  const headerSize = buffer.readUInt16LE(6);
  if (version !== 0) throw new IvfFormatError(`unsupported IVF version ${version}`);
  if (headerSize !== FILE_HEADER_BYTES) {
    throw new IvfFormatError(`unexpected IVF header size ${headerSize}`);
  }
  const header: IvfHeader = {
    fourcc: buffer.toString("latin1", 8, 12),
    width: buffer.readUInt16LE(12),
    height: buffer.readUInt16LE(14),
    timebaseDenominator: buffer.readUInt32LE(16),
    timebaseNumerator: buffer.readUInt32LE(20),
    declaredFrameCount: buffer.readUInt32LE(24),
  };
  if (header.timebaseDenominator === 0 || header.timebaseNumerator === 0) {
    throw new IvfFormatError("IVF timebase is zero");
  }

  const frames: IvfFrame[] = [];
  let offset = FILE_HEADER_BYTES;
  while (offset < buffer.length) {
    if (offset + FRAME_HEADER_BYTES > buffer.length) {
      throw new IvfFormatError(`truncated frame header at byte ${offset}`);
    }
    const size = buffer.readUInt32LE(offset);
    const pts = buffer.readBigUInt64LE(offset + 4);
    const start = offset + FRAME_HEADER_BYTES;
    if (size === 0) throw new IvfFormatError(`empty frame at byte ${offset}`);
    if (start + size > buffer.length) {
      throw new IvfFormatError(`frame at byte ${offset} claims ${size} bytes past the end`);
    }
    if (pts > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new IvfFormatError(`frame at byte ${offset} has an out-of-range timestamp`);
    }
    const previous = frames.at(-1);
    if (previous && Number(pts) <= previous.pts) {
      throw new IvfFormatError(`frame timestamps do not increase at byte ${offset}`);
    }
    frames.push({ pts: Number(pts), data: buffer.subarray(start, start + size) });
    offset = start + size;
  }
  if (frames.length === 0) throw new IvfFormatError("IVF file has no frames");
  return { header, frames };
}

/** Reads and parses an IVF file. */
export function readIvfFile(path: string): IvfFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new IvfFormatError(
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  return parseIvf(bytes);
}
