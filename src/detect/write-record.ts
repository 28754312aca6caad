// Why: Claude Code's Write, Edit, MultiEdit and NotebookEdit tools change files without a shell, so
// the command screen never sees them. Threat it stops: an agent planting persistence (a shell
// startup file, a cron entry, a systemd unit, authorized_keys, a git hook, sudoers, a .pth file …)
// through a file tool instead of `echo … >> ~/.bashrc`. Rather than keep a second list of places,
// the write is turned into the command record the analyzer would give for `tee PATH` (also carrying
// the redirect `>PATH`), and the command rules that judge writes by redirect or tee judge it: one
// list of places, in rules/command-*.yaml, for both screens.
import type { CommandRecord } from './command/types.js';

/**
 * The `command` record for "tool writes `abs`" (and its `~/…` spelling, when it has one, so rules
 * written for ~ match whatever the home directory is). `tool` names the call in messages.
 *
 * @example writeRecord('Write', '/home/a/.bashrc', '~/.bashrc').argv  // ['tee', '/home/a/.bashrc', '~/.bashrc']
 */
export function writeRecord(tool: string, abs: string, tilde?: string): CommandRecord {
  const paths = tilde === undefined ? [abs] : [abs, tilde];
  const text = `${tool} ${abs}`;
  return {
    argv: ['tee', ...paths], text, depth: 0, via: '', span: [0, text.length], chain: [text],
    redirects: paths.map((p) => `>${p}`), input_from: [], files: paths, ips: [], flags: [],
  };
}
