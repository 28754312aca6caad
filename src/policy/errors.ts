// Why: a policy mistake must be fixable in one look ("policies/x.yaml:12:5: network.allow[1].ports:
// expected ..."), otherwise people loosen policies until they load. Mapping every zod issue and
// YAML syntax error back to file:line:column keeps broken policies loud instead of half-applied.

import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node, type ParsedNode } from 'yaml';
import type { ZodIssue } from 'zod';
import { safeText } from '../cli/style.js';

export interface PolicyIssue {
  /** The file this issue is in, when not the error's own (a merged `extends` chain: the file that wrote the field). */
  file?: string;
  line?: number;
  column?: number;
  field?: string;
  message: string;
}

export class PolicyError extends Error {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly field?: string;
  /** Every problem found, first one is the primary (also in file/line/column/field). */
  readonly issues: PolicyIssue[];

  constructor(file: string, issue: PolicyIssue, more: PolicyIssue[] = []) {
    const all = [issue, ...more];
    const text = all.map((i) => formatIssue(file, i)).join('\n');
    super(text);
    this.name = 'PolicyError';
    this.file = file;
    if (issue.line !== undefined) this.line = issue.line;
    if (issue.column !== undefined) this.column = issue.column;
    if (issue.field !== undefined) this.field = issue.field;
    this.issues = all;
  }
}

/** One issue as a line: file, field and message through safeText (each may quote the file's keys and values, or its name). */
export function formatIssue(file: string, i: PolicyIssue): string {
  const at = safeText(i.file ?? file);
  const loc = i.line !== undefined ? `${at}:${i.line}:${i.column ?? 1}` : at;
  return i.field ? `${loc}: ${safeText(i.field)}: ${safeText(i.message)}` : `${loc}: ${safeText(i.message)}`;
}

/** 'network.allow[1].ports' from ['network', 'allow', 1, 'ports']. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

type Pos = { line: number; column: number };

function placed(p: Pos & { file?: string }): Omit<PolicyIssue, 'message'> {
  return { ...(p.file !== undefined && { file: p.file }), line: p.line, column: p.column };
}

function child(node: unknown, key: string | number): { node?: Node; keyNode?: Node } {
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (k === key || (typeof k !== 'object' && String(k) === String(key))) {
        return { node: (pair.value ?? undefined) as Node | undefined, keyNode: pair.key as Node };
      }
    }
    return {};
  }
  if (isSeq(node) && typeof key === 'number') return { node: node.items[key] as Node | undefined };
  return {};
}

function posOf(node: Node | undefined | null, lc: LineCounter): Pos | undefined {
  const start = (node as ParsedNode | undefined)?.range?.[0];
  if (start === undefined) return undefined;
  const p = lc.linePos(start);
  return { line: p.line, column: p.col };
}

/**
 * Finds where an issue path points in the document: the value node if present; for a missing key
 * (or a key whose value failed to parse) the deepest existing ancestor; for an unknown key, the key.
 */
export function locate(doc: Document.Parsed, lc: LineCounter, path: ReadonlyArray<string | number>, unknownKey?: string): Pos | undefined {
  let node: unknown = doc.contents;
  let best = posOf(node as Node, lc);
  for (const seg of path) {
    const c = child(node, seg);
    if (!c.node && !c.keyNode) return best;
    best = posOf(c.node, lc) ?? posOf(c.keyNode, lc) ?? best;
    node = c.node;
    if (!node) return best;
  }
  if (unknownKey !== undefined) {
    const c = child(node, unknownKey);
    return posOf(c.keyNode, lc) ?? best;
  }
  return best;
}

const KNOWN_KEYS = [
  'name', 'extends', 'mode', 'network', 'allow', 'deny', 'hosts', 'resolvers', 'domain', 'cidr', 'ports', 'protocols',
  'resources', 'cpus', 'memory', 'pids', 'ptys', 'timeout', 'workspace_size', 'workspace_disk', 'root_size', 'filesystem', 'workspace', 'hide', 'env_allow',
  'detection', 'on_finding', 'response', 'kill', 'categories', 'min_severity', 'scope',
  'gpu', 'devices', 'expected_processes', 'task', 'util_threshold_pct', 'sustain_s',
];

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] ?? 0;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j] ?? 0;
      d[j] = Math.min((d[j] ?? 0) + 1, (d[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length] ?? 0;
}

export function suggestKey(key: string): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of KNOWN_KEYS) {
    const dist = editDistance(key.toLowerCase(), k);
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return best;
}

/** Where an issue's path (or an unknown key under it) was written; `file` when another file than the error's. */
export type IssueLocator = (path: ReadonlyArray<string | number>, unknownKey?: string) => (Pos & { file?: string }) | undefined;

/** The locator of one parsed file. */
export function docLocator(doc: Document.Parsed, lc: LineCounter): IssueLocator {
  return (path, unknownKey) => locate(doc, lc, path, unknownKey);
}

/** Turns zod issues into positioned PolicyIssues, sorted by position in the file (without `at`: unpositioned). */
export function issuesFromZod(issues: readonly ZodIssue[], at?: IssueLocator): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) {
        const pos = at?.(iss.path, key);
        const hint = suggestKey(key);
        out.push({
          ...pos && placed(pos),
          field: formatPath([...iss.path, key]),
          message: `unknown key '${key}'${hint && hint !== key ? ` (did you mean '${hint}'?)` : ''}`,
        });
      }
      continue;
    }
    const pos = at?.(iss.path);
    let message = iss.message;
    if (iss.code === 'invalid_type') {
      message = iss.received === 'undefined' ? `is required (expected ${iss.expected})` : `expected ${iss.expected === 'object' ? 'a mapping' : iss.expected === 'array' ? 'a list' : iss.expected}, got ${iss.received === 'object' ? 'a mapping' : iss.received === 'array' ? 'a list' : iss.received}`;
    }
    out.push({ ...pos && placed(pos), ...(iss.path.length > 0 && { field: formatPath(iss.path) }), message });
  }
  out.sort((a, b) => (a.line ?? 1e9) - (b.line ?? 1e9) || (a.column ?? 0) - (b.column ?? 0));
  return out;
}
