// Why: compatibility shim. The 16 detections over analyzer facts (where a command's input comes
// from, where it redirects to, which operands are files, same-call download-and-run) used to be
// TypeScript here because the rule engine had no fields for them. They are now YAML rules in
// rules/command-*.yaml over cmd.redirects, cmd.input_from, cmd.files and cmd.flags, so users can
// disable or tune them like any other rule. This file only keeps the old export so existing
// imports (test/check.test.ts) compile; it can be deleted once nothing imports it.
import type { AlertCategory, Severity } from '../../events/event.js';
import type { CommandRecord } from './types.js';

/** @deprecated every fact rule is a YAML rule now; kept for old imports. */
export interface FactRule {
  id: string;
  desc: string;
  category: AlertCategory;
  severity: Severity;
  attack: string[];
  reason: string;
  examples: { match: string[]; nomatch: string[] };
  test(r: CommandRecord, name: string): string | null;
}

/** @deprecated empty: the rules moved to rules/command-*.yaml. */
export const FACT_RULES: readonly FactRule[] = [];
