export {
  createVpnCollector,
  type VpnCollectorOptions,
  type VpnConnectionEvent,
} from "./collector.ts";
export { parseWgDump, peerFingerprint, type WgPeer } from "./wg-dump.ts";
