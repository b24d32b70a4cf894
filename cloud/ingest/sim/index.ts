// Public entry of the ingest pipeline simulation (see run.ts). Driven by
// test/cloud/ingest/pipeline.sim.test.ts; one seed replays one run.
export { runIngestSeed, ingestSimConfig, simStepsMax, type IngestSimConfig, type IngestSimResult } from "./run";
export { checkIngestRun, type CheckInput, type SentDevice, type OutputRecords } from "./checker";
