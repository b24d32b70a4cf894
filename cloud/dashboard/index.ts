// Operator web dashboard: fleet status, telemetry and cluster health in a
// browser. See docs/dashboard.md.
export { startDashboard } from "./server";
export { NatsDashboardSource, createNatsDashboardSource, deviceRow, eventFromMessage, alertEventFromMessage, type NatsDashboardSourceOptions } from "./nats-source";
export { startNatsDashboard, type NatsDashboardOptions } from "./standalone";
export { MemoryDashboardSource, emptyCluster } from "./memory-source";
export { QueryError, FleetSort, type FleetQuery, type FleetPage, type FleetTotals } from "./query";
export * from "./types";
export { RateMeter, RateMeters } from "./rates";
export { topologyView, edgeJobRows, type TopologyView, type GatewayView, type MeshCounterRow, type EdgeJobRow, type EdgeExtras, type LocalMesh } from "./topology";
