// Public entry of the cloud node: the process that composes capabilities
// into roles (main.ts is its entry; `xsfleet cloud` calls runCloudNode).
export { runCloudNode, type RunIo } from "./main";
export { startCloudNode, type CloudNode, type CloudNodeDeps } from "./node";
export { loadConfig, validateConfig, defaultConfig, usage, ConfigError, settingSpecs, defaultLimits, type CloudConfig, type CloudLimits, type ConfigIssue } from "./config";
export { defaultRoleFactories, type RoleContext, type RoleHandle, type RoleFactories, type ApiSeams } from "./roles";
export { createNodeMetrics, type NodeMetrics, type HealthReport } from "./metrics";
