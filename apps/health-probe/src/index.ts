export {
  createVpnCollector,
  type VpnCollectorOptions,
  type VpnConnectionEvent,
} from "./collector.ts";
export { loadProbeEnv, probeEnvReference } from "./env.ts";
export { type ProbeEnv, type RunningProbe, startHealthProbe } from "./probe.ts";
export { parseWgDump, peerFingerprint, type WgPeer } from "./wg-dump.ts";
