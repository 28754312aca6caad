// Why: persistence planted by code rather than by a command the screen can read — a Python script
// writing usercustomize.py into the user site, a git hook, ~/.bashrc — runs again in
// later tool calls (every python3 start, every git commit, every login shell) and, with a host
// workspace, in the user's own repository. HOME is /workspace, so these places are the workspace's.
// Threat it stops: runtime persistence the command layer cannot see (T1546.004 shell configuration,
// T1546.018 Python startup hooks, git hooks and git config that runs commands — which also reaches
// whoever runs git in the workspace next, the training harness collecting a patch —, XDG autostart
// and user systemd units, SSH keys). The
// places are looked at (lstat, below real directories only: a symlink anywhere on the way is not
// followed) after every tool call; a file that appeared or changed becomes a `file` event and a persistence alert attributed to that call.
import { lstatSync, opendirSync } from 'node:fs';
import { join } from 'node:path';
import { gitConfigExecEntries } from './git-config-exec.js';
import { readPlainFile, realDirs } from './plain-file.js';

/** What a planted file there does, and its ATT&CK technique. */
export interface PersistencePlace { what: string; attack: string[]; severity: 'medium' | 'high' }

const SHELL: PersistencePlace = { what: 'shell start-up file (runs in every login or interactive shell)', attack: ['T1546.004'], severity: 'high' };
const PY_HOOK: PersistencePlace = { what: 'Python start-up hook (runs in every python3 of this user)', attack: ['T1546.018'], severity: 'high' };
const GIT_HOOK: PersistencePlace = { what: 'git hook (runs on git commands in that repository)', attack: ['T1546'], severity: 'high' };
const AUTOSTART: PersistencePlace = { what: 'XDG autostart entry', attack: ['T1547.013'], severity: 'high' };
const SYSTEMD: PersistencePlace = { what: 'user systemd unit', attack: ['T1543.002'], severity: 'high' };
const SSH: PersistencePlace = { what: 'SSH login file (authorized_keys or rc)', attack: ['T1098.004'], severity: 'high' };
/** A repository's .git/config holding settings that make git run a command (git-config-exec.ts); `what` names the first. */
const gitConfigPlace = (first: string): PersistencePlace => ({ what: `repository git config that makes git run a command on ordinary use, also when the user or a harness runs git there (${first})`, attack: ['T1546'], severity: 'high' });

const SHELL_FILES = ['.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.profile', '.zshrc', '.zprofile', '.zshenv'];

/** lstat of root/rel without throwing, only below real directories; undefined when absent. ctime: the agent cannot set it back. */
function stamp(root: string, rel: string): string | undefined {
  const slash = rel.lastIndexOf('/');
  if (slash > 0 && !realDirs(root, rel.slice(0, slash))) return undefined;
  try {
    const st = lstatSync(join(root, rel));
    // (an overlay whiteout — a character device 0:0 in a writable root's layer — is a file the agent
    // deleted from the image, not one it planted; an agent cannot make device nodes itself)
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    return `${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.mode}:${st.ino}`;
  } catch { return undefined; }
}

/** An entry of a watched directory: a real directory (dir), a symbolic link (link), or another file. */
export interface PlaceEntry { name: string; dir: boolean; link: boolean }

/** Up to 256 entries of root/rel when it and every directory above it are real (never a symlink), read lazily. */
function entries(root: string, rel: string): PlaceEntry[] {
  if (!realDirs(root, rel)) return [];
  const out: PlaceEntry[] = [];
  try {
    const d = opendirSync(join(root, rel));
    try {
      for (let e = d.readSync(); e !== null && out.length < 256; e = d.readSync()) out.push({ name: e.name, dir: e.isDirectory(), link: e.isSymbolicLink() });
    } finally { d.closeSync(); }
  } catch { /* gone or unreadable: nothing to watch */ }
  return out;
}

/** path (relative to the workspace) → [stamp, place] for every persistence file now present. */
export type PersistenceSnapshot = Map<string, [string, PersistencePlace]>;

/**
 * What a list of places gets to look with: add a file (or link) if present, list a directory (both
 * below real directories only), and find the first symbolic link on a path (lstat, never followed).
 */
export interface PlaceWalk {
  /** `stamp`, when given, stands for the file's state instead of its lstat (a change is a change of it). */
  add(rel: string, place: PersistencePlace, stamp?: string): void;
  entries(rel: string): PlaceEntry[];
  /** The first component of rel (rel itself included) that is a symbolic link, as a path relative to the root; undefined when none is. */
  linkOnWay(rel: string): string | undefined;
}

/** See PlaceWalk.linkOnWay: the components are looked at with lstat, from the top, and the walk stops at one that is absent or not a directory. */
function linkOnWay(root: string, rel: string): string | undefined {
  const parts = rel.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    let st;
    try { st = lstatSync(join(root, ...parts.slice(0, i))); } catch { return undefined; }
    if (st.isSymbolicLink()) return parts.slice(0, i).join('/');
    if (!st.isDirectory()) return undefined;
  }
  return undefined;
}


/** A snapshot of the places `walk` names under root (the workspace, or a writable root's changes). */
export function snapshotPlaces(root: string, walk: (w: PlaceWalk) => void): PersistenceSnapshot {
  const out: PersistenceSnapshot = new Map();
  walk({
    add: (rel, place, own) => { const s = stamp(root, rel); if (s) out.set(rel, [own ?? s, place]); },
    entries: (rel) => entries(root, rel),
    linkOnWay: (rel) => linkOnWay(root, rel),
  });
  return out;
}

export function snapshotPersistence(root: string): PersistenceSnapshot {
  return snapshotPlaces(root, ({ add }) => workspacePlaces(root, add));
}

function workspacePlaces(root: string, add: PlaceWalk['add']): void {
  for (const f of SHELL_FILES) add(f, SHELL);
  for (const f of ['authorized_keys', 'authorized_keys2', 'rc']) add(`.ssh/${f}`, SSH);
  for (const py of entries(root, '.local/lib')) {
    if (!py.dir || !py.name.startsWith('python')) continue;
    const site = `.local/lib/${py.name}/site-packages`;
    // (.pth files are not watched: pip writes them for namespace packages, setuptools and editable
    // installs — `pip install` in a sandbox defaults to this user site — so they would be noise)
    for (const e of entries(root, site)) if (e.name === 'usercustomize.py' || e.name === 'sitecustomize.py') add(`${site}/${e.name}`, PY_HOOK);
  }
  // git hooks of a repository at the top of the workspace or one level down, and its config when it
  // holds settings that run commands (core.fsmonitor, filters, diff drivers, hooksPath, include).
  // The config file itself is not the place: `git init` and `git config user.email` write it in
  // ordinary work; only a change of those settings is.
  const repos = ['', ...entries(root, '').filter((e) => e.dir && !e.name.startsWith('.')).map((e) => `${e.name}/`)];
  for (const r of repos) {
    for (const h of entries(root, `${r}.git/hooks`)) if (!h.dir && !h.name.endsWith('.sample')) add(`${r}.git/hooks/${h.name}`, GIT_HOOK);
    // (its settings that run commands, not the file: `git config user.email` rewrites it in ordinary work)
    const config = readPlainFile(root, `${r}.git/config`, 64 * 1024)?.toString('utf8');
    const exec = config === undefined ? [] : gitConfigExecEntries(config);
    if (exec.length) add(`${r}.git/config`, gitConfigPlace(exec[0]!), exec.join('\n'));
  }
  for (const e of entries(root, '.config/autostart')) if (!e.dir) add(`.config/autostart/${e.name}`, AUTOSTART);
  for (const e of entries(root, '.config/systemd/user')) {
    if (!e.dir) add(`.config/systemd/user/${e.name}`, SYSTEMD);
    else for (const f of entries(root, `.config/systemd/user/${e.name}`)) if (!f.dir) add(`.config/systemd/user/${e.name}/${f.name}`, SYSTEMD);
  }
}

/** Files that appeared or changed from `before` to `after`, with their place. */
export function persistenceChanges(before: PersistenceSnapshot, after: PersistenceSnapshot): { path: string; created: boolean; place: PersistencePlace }[] {
  const out: { path: string; created: boolean; place: PersistencePlace }[] = [];
  for (const [path, [s, place]] of after) {
    const old = before.get(path);
    if (!old || old[0] !== s) out.push({ path, created: !old, place });
  }
  return out;
}
