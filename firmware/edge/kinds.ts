// The kind bytes local-link frames carry: an index into these frozen tables
// (the same order as the runtime's outbox kind byte). One home for both ends.
import { Downlink, Uplink } from "../../shared/topics";

export const uplinkKinds: readonly Uplink[] = Object.freeze([Uplink.Hello, Uplink.Heartbeat, Uplink.Telemetry, Uplink.Counters, Uplink.CommandAck, Uplink.Status]);
export const downlinkKinds: readonly Downlink[] = Object.freeze([Downlink.Command, Downlink.Config, Downlink.Receipt]);
