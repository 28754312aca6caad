// Why: one loader turns a YAML file, a preset name or nothing (the safe default) into a validated
// Policy, resolving `extends`. Every failure is a PolicyError pointing at file:line:column, so a
// broken policy stops the run instead of degrading to something looser.

import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { type Document, isNode, LineCounter, parseDocument, visit } from 'yaml';
import { docLocator, type IssueLocator, issuesFromZod, locate, PolicyError, type PolicyIssue } from './errors.js';
import { readNamedFile, NamedFileError } from '../util/read-named-file.js';
import { keepFieldSource, withFieldSource } from './field-source.js';
import { chainLocator, fieldLocator } from './chain-place.js';
import { mergeRaw } from './merge.js';
import { type Policy, PolicySchema } from './schema.js';
import { refuseTwoWorkspaceCaps } from './workspace-caps.js';
import { listPresets, policySource, presetDir } from './source.js';
import { MAX_EXTENDS_CHAIN, POLICY_FILE_MAX, refuseOversizedLists } from './size-limits.js';

type Raw = Record<string, unknown>;

interface Parsed {
  raw: Raw;
  doc: Document.Parsed;
  lc: LineCounter;
}

function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

/** YAML's plain types: an explicit tag for one of them (`!!str 5`) is fine. */
const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'seq', 'map'].map((t) => `tag:yaml.org,2002:${t}`));

function parseYaml(text: string, file: string): Parsed {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const errs = doc.errors;
  if (errs.length > 0) {
    // (the parser may report one mistake several times at the same place: each is shown once)
    const issues = errs.map((e) => {
      const p = lc.linePos(e.pos[0]);
      const msg = e.message.split('\n')[0] ?? e.message;
      return { line: p.line, column: p.col, message: `YAML syntax error: ${msg}` };
    }).filter((x, i, all) => all.findIndex((y) => y.line === x.line && y.column === x.column && y.message === x.message) === i);
    throw new PolicyError(file, issues[0] as (typeof issues)[number], issues.slice(1));
  }
  // A typed value (`!!binary`, `!!timestamp`, `!!set` …) becomes a Buffer, a Date or a Set, which the schema then
  // read as a mapping of their methods — a hundred "unknown key 'swap16'" lines (a review, session 40): one error here.
  let typed: { tag: string; at: number } | undefined;
  visit(doc, (_k, node) => {
    if (!isNode(node) || node.tag === undefined || PLAIN_TAGS.has(node.tag)) return undefined;
    typed = { tag: node.tag, at: node.range?.[0] ?? 0 };
    return visit.BREAK;
  });
  if (typed) {
    const p = lc.linePos(typed.at);
    throw new PolicyError(file, { line: p.line, column: p.col, message: `a YAML ${typed.tag.replace('tag:yaml.org,2002:', '!!')} value is not a policy value; write plain text, numbers, lists and mappings` });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // An alias bomb (or an alias to nothing) is the file's mistake, not Corral's: a policy error.
    throw new PolicyError(file, { line: 1, column: 1, message: `YAML error: ${(e as Error).message.split('\n')[0]}` });
  }
  if (raw === null || raw === undefined) throw new PolicyError(file, { line: 1, column: 1, message: 'the policy is empty; expected a mapping (key: value)' });
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    const p = lc.linePos((doc.contents?.range?.[0]) ?? 0);
    throw new PolicyError(file, { line: p.line, column: p.col, message: 'expected a mapping (key: value) at the top level' });
  }
  return { raw: raw as Raw, doc, lc };
}

/** The policy, or a PolicyError in the file where its first issue was written (`at` places each issue). */
function validate(raw: Raw, file: string, at: IssueLocator): Policy {
  const r = PolicySchema.safeParse(raw);
  if (r.success) return r.data;
  const issues = issuesFromZod(r.error.issues, at);
  const first = issues[0] ?? { message: 'invalid policy' };
  throw new PolicyError(first.file ?? file, first, issues.slice(1));
}

function defaultName(file: string): string {
  const stem = basename(file).replace(/\.ya?ml$/i, '').replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return stem.slice(0, 64) || 'policy';
}

/** Resolves a document's raw value through its `extends` chain. `stack` detects cycles; `chain` gets each file read, the child first. */
function resolveRaw(p: Parsed, file: string, stack: string[], chain: { file: string; p: Parsed }[] = []): Raw {
  chain.push({ file, p });
  const own: Raw = p.raw.name === undefined ? { ...p.raw, name: defaultName(file) } : p.raw;
  // Validate the file on its own first, so errors point at this file's lines.
  refuseOversizedLists(own, file, p);
  validate(own, file, docLocator(p.doc, p.lc));
  const ext = own.extends;
  if (typeof ext !== 'string') return own;
  // (errors about `extends` point at its line in this file)
  const at = p.doc && p.lc ? locate(p.doc, p.lc, ['extends']) : undefined;
  const where = at ? { line: at.line, column: at.column } : {};
  const parent = locateExtends(ext, file, where);
  if (stack.includes(parent.key)) {
    throw new PolicyError(file, { ...where, field: 'extends', message: `extends cycle: ${[...stack, parent.key].join(' -> ')}` });
  }
  if (stack.length >= MAX_EXTENDS_CHAIN) {
    throw new PolicyError(file, { ...where, field: 'extends', message: `an extends chain of more than ${MAX_EXTENDS_CHAIN} files: ${[...stack, parent.key].join(' -> ')}` });
  }
  const parentRaw = resolveRaw(parseYaml(readText(parent.path, file, { ...where, field: 'extends' }), parent.display), parent.display, [...stack, parent.key], chain);
  const { extends: _ignored, name: _name, ...inherited } = parentRaw;
  const merged = mergeRaw(inherited, own);
  refuseOversizedLists(merged, file, p, true);
  return merged;
}

function locateExtends(ext: string, fromFile: string, where: { line?: number; column?: number } = {}): { path: string; display: string; key: string } {
  if (/\.ya?ml$/i.test(ext) || ext.includes('/')) {
    const base = existsSync(fromFile) ? dirname(resolve(fromFile)) : process.cwd();
    const abs = resolve(base, ext);
    return { path: abs, display: displayPath(abs), key: abs };
  }
  const abs = presetPath(ext, fromFile, 'extends', where);
  return { path: abs, display: displayPath(abs), key: abs };
}

function presetPath(name: string, errFile: string, field?: string, where: { line?: number; column?: number } = {}): string {
  const available = listPresets();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !available.includes(name)) {
    throw new PolicyError(errFile, { ...where, ...(field && { field }), message: `unknown preset '${name}'; available presets: ${available.join(', ')}` });
  }
  return resolve(presetDir(), `${name}.yaml`);
}

/** A policy file's text; one that cannot be read is a PolicyError in errFile, at `at` (the `extends:` that names it) when given. */
function readText(path: string, errFile: string, at: Omit<PolicyIssue, 'message'> = {}): string {
  try {
    return readNamedFile(path, { max: POLICY_FILE_MAX });
  } catch (e) {
    const why = e instanceof NamedFileError ? e.why : String(e);
    throw new PolicyError(errFile, { ...at, message: `cannot read policy file ${path}: ${why}` });
  }
}

/** Parses policy text. `file` is used in error messages and to resolve a relative `extends` path. */
export function parsePolicy(text: string, file: string): Policy {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > POLICY_FILE_MAX) throw new PolicyError(file, { line: 1, column: 1, message: `the policy is ${bytes} bytes, larger than the ${POLICY_FILE_MAX} a policy file may be` });
  const chain: { file: string; p: Parsed }[] = [];
  const raw = resolveRaw(parseYaml(text, file), file, [existsSync(file) ? resolve(file) : file], chain);
  // (an issue only the merged policy has is placed in the file of the chain that wrote its field)
  const p = withFieldSource(validate(raw, file, chainLocator(chain)), fieldLocator(chain));
  refuseTwoWorkspaceCaps(p);
  return p;
}

/**
 * A policy built or changed in code (`{ ...loadPreset('default'), resources: { …, timeout: '5s' } }`, or one
 * read from JSON) checked by the same schema as a file: a wrong type or value is a PolicyError naming the
 * field (`resources.timeout`), missing sections get their defaults and unit strings are read ('5s' → 5000 ms),
 * as in a file; a number is what the Policy type says it is (a timeout in milliseconds, where a file's bare
 * number is seconds). A policy from the loaders passes unchanged. Threat: a malformed policy silently running a sandbox
 * other than the one written (a timeout of '5s' read as 5 ms; a missing `network` a TypeError deep inside).
 */
export function checkPolicy(p: unknown, name = 'policy object'): Policy {
  // (a Policy's durations are milliseconds — a file's bare numbers are seconds: read as the object means them)
  const res = typeof p === 'object' && p !== null ? (p as { resources?: unknown }).resources : undefined;
  const t = typeof res === 'object' && res !== null ? (res as { timeout?: unknown }).timeout : undefined;
  const given = typeof t === 'number' && Number.isFinite(t) ? { ...(p as object), resources: { ...(res as object), timeout: `${t}ms` } } : p;
  const r = PolicySchema.safeParse(given);
  if (r.success) return keepFieldSource(p as Policy, r.data);
  const issues = issuesFromZod(r.error.issues);
  throw new PolicyError(name, issues[0] ?? { message: 'invalid policy' }, issues.slice(1));
}

/** Loads a policy file, resolving `extends`. */
export function loadPolicyFile(path: string): Policy {
  return parsePolicy(readText(path, path), path);
}

export function loadPreset(name: string): Policy {
  const abs = presetPath(name, `preset '${name}'`);
  return loadPolicyFile(displayPath(abs));
}

/**
 * undefined -> the 'default' preset; a preset's name -> that preset, always; a path (with a `/`),
 * anything ending in .yaml/.yml, or an existing file -> that file; anything else -> an unknown preset.
 * Threat: a file named like a preset in the working directory — which may be the sandbox's own
 * writable workspace (`corral run --workspace .`) — standing in for the preset the operator named,
 * so a tool call could write `default` and open everything for the next run. `./default` names
 * such a file on purpose.
 */
export function resolvePolicy(spec: string | undefined): Policy {
  const src = policySource(spec);
  return 'file' in src ? loadPolicyFile(src.file) : loadPreset(src.preset);
}
