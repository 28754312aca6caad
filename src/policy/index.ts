// Why: one import point for the policy layer (loading, validation errors, compiled decisions), so
// the gateway, the sandbox and the CLI share exactly the same rules.

export { type AddressClass, classifyAddress, METADATA_ADDRESSES } from './address-class.js';
export { type CompiledPolicy, type CompileOptions, type ConnectContext, type Decision, type DnsDecision, compilePolicy } from './compile.js';
export { isMetadataName, METADATA_NAMES } from './domain.js';
export { PolicyError, type PolicyIssue } from './errors.js';
export { parseHostSpec, parseMountSpec, withExtraAllows, withExtraMounts } from './extra-allows.js';
export { checkPolicy, loadPolicyFile, loadPreset, parsePolicy, resolvePolicy } from './load.js';
export { listPresets, policySource, presetDir, type PolicySource } from './source.js';
export { localHostAddresses } from './host-addresses.js';
export { type NetRule, type Policy, type Protocol, type ReadOnlyMount, PROTOCOLS, parseResolver, checkMounts } from './schema.js';
export { parseDuration, parseSize } from './units.js';
