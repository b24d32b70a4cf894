// Public entry of the base module: what every cloud folder may use and
// nothing cloud-specific depends on — logger, clock, random, ids, the cloud
// role vocabulary and the shape of settings.
export { LogLevel, createLogger, silentLogger, type Logger, type LogFields } from "./log";
export { monotonicNowMs, settledWithin, sleep } from "./clock";
export { seededRandom, randomInt, shuffleInPlace, randomNormal, Prng, type RandomSource } from "./random";
export { nodeIdPattern, isNodeId, assertNodeId, newTraceparent } from "./ids";
export { CloudRole, cloudRoles, isCloudRole } from "./cloud-role";
export type { IntRange, IntRanges, SettingProblem, SettingsReader } from "./settings";
