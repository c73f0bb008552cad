import { describe, expect, test } from "bun:test";
import { normalizePlate } from "../src/plates/normalize.ts";

describe("plate normalization", () => {
  test("Cyrillic look-alikes map to Latin; spaces and case do not matter", () => {
    expect(normalizePlate("а 123 вс 77")).toBe("A123BC77");
    expect(normalizePlate("А123ВС777")).toBe("A123BC777");
    expect(normalizePlate("x 001 xx 199")).toBe("X001XX199");
    expect(normalizePlate("ек 123 77")).toBe("EK12377");
  });
  test("non-plates are refused", () => {
    for (const bad of [
      "",
      "Б123ВС77",
      "A123BC7",
      "A000BC77",
      "A123BC7777",
      "A123BC00",
      "hello",
      "A123BC77; drop table",
      "A".repeat(40),
    ]) {
      expect(normalizePlate(bad)).toBeNull();
    }
  });
});
