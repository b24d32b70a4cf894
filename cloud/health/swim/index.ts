// Public entry of the SWIM membership core.
export { SwimNode, type SwimNodeStats } from "./swim-node";
export { SWIM_LAN_DEFAULTS, resolveSwimConfig, retransmitLimit, suspicionTimeoutMs } from "./config";
export { SwimSimulation, NodeStatus, type ObservedEvent, type SimNetworkConfig, type SwimSimulationOptions } from "./simulator";
export * from "./types";
