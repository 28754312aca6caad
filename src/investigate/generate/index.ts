// Why: one import for the fleet simulator (tests, benchmarks, the CLI).
export { generateFleet, generateFleetFiles, fleetOptionsFor, type FleetFilesOptions } from './generate.js';
export { fleetGenerateCommand, parseGenerateArgs } from './cli.js';
export { NET_OUTPUTS, type FleetOptions, type GroundTruth, type TruthIncident, type TruthAlert, type NetOutput, type IncidentKind } from './model.js';
