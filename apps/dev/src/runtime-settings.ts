/**
 * How far JavaScriptCore lets a small heap grow between collections (`BUN_JSC_smallHeapGrowthFactor`;
 * its default is 2). At 1.6 the api's RSS under load is about 30 MB lower at no measurable CPU
 * cost (BENCHMARKS.md). The image sets it (infra/image/Containerfile), so does every systemd unit,
 * and the bench's measured api runs with it; the deployment tests hold them to this value.
 */
export const HEAP_GROWTH_FACTOR = "1.6";
