/**
 * The image `faces.enroll` is checked with: an 8×8 baseline JPEG of flat grey (mid-grey DC, no
 * AC: one-code Huffman tables), made here so nothing of anyone is ever sent. A partner that
 * looks for a face in it will find none; that refusal is a skip, not a failure.
 */
const SOI = [0xff, 0xd8];
const APP0_JFIF = [
  0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
  0x00, 0x00,
];
const DQT = [0xff, 0xdb, 0x00, 0x43, 0x00, ...new Array<number>(64).fill(1)];
/** 8×8, one component, no subsampling, quantization table 0. */
const SOF0 = [0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00];
/** Huffman tables of one 1-bit code each: DC category 0, AC end-of-block. */
const oneCodeTable = (tableClass: number) => [
  0xff,
  0xc4,
  0x00,
  0x14,
  tableClass,
  0x01,
  ...new Array<number>(15).fill(0),
  0x00,
];
const SOS = [0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00];
/** The one block: DC code `0`, EOB code `0`, padded with ones. */
const SCAN = [0x3f];
const EOI = [0xff, 0xd9];

export const TEST_FACE_JPEG_BASE64 = Buffer.from([
  ...SOI,
  ...APP0_JFIF,
  ...DQT,
  ...SOF0,
  ...oneCodeTable(0x00),
  ...oneCodeTable(0x10),
  ...SOS,
  ...SCAN,
  ...EOI,
]).toString("base64");
