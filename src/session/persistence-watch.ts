// Why: persistence planted by code rather than by a command the screen can read — a Python script
// writing usercustomize.py into the user site, a git hook, ~/.bashrc — runs again in
// later tool calls (every python3 start, every git commit, every login shell) and, with a host
// workspace, in the user's own repository. HOME is /workspace, so these places are the workspace's.
// Threat it stops: runtime persistence the command layer cannot see (T1546.004 shell configuration,
// T1546.018 Python startup hooks, git hooks and git config that runs commands — which also reaches
// whoever runs git in the workspace next, the training harness collecting a patch —, XDG autostart
// and user systemd units, SSH keys), also in submodules' and worktrees' git directories, and when hidden behind a symbolic link, a `.git` file naming
// another git directory, a padded config or a crowded directory. The places are looked at after
// every tool call and when the session closes (lstat; a symbolic link on the way is itself a place,
// and is followed only while it stays inside the workspace — never to the host's files); a file that
// appeared or changed becomes a `file` event and a persistence alert attributed to that call.
import { lstatSync, opendirSync, readdirSync, readlinkSync, type Dirent } from 'node:fs';
import { join, posix } from 'node:path';
import { gitConfigExecEntries } from './git-config-exec.js';
import { readPlainFile, realDirs } from './plain-file.js';
import { plantedPthLines, pthPathLines } from './python-pth.js';

/** What a planted file there does, and its ATT&CK technique. */
export interface PersistencePlace { what: string; attack: string[]; severity: 'medium' | 'high' }

const SHELL: PersistencePlace = { what: 'shell start-up file (runs in every login or interactive shell)', attack: ['T1546.004'], severity: 'high' };
const PY_HOOK: PersistencePlace = { what: 'Python start-up hook (runs in every python3 of this user)', attack: ['T1546.018'], severity: 'high' };
/** A `.pth` with executable lines no packaging tool writes (python-pth.ts); `what` names the first. */
const pthPlace = (first: string): PersistencePlace => ({
  what: `Python .pth file with code that runs in every python3 of this user (${first.length > 80 ? `${first.slice(0, 80)}…` : first})`, attack: ['T1546.018'], severity: 'high',
});
const GIT_HOOK: PersistencePlace = { what: 'git hook (runs on git commands in that repository)', attack: ['T1546'], severity: 'high' };
const AUTOSTART: PersistencePlace = { what: 'XDG autostart entry', attack: ['T1547.013'], severity: 'high' };
const SYSTEMD: PersistencePlace = { what: 'user systemd unit', attack: ['T1543.002'], severity: 'high' };
const SSH: PersistencePlace = { what: 'SSH login file (authorized_keys or rc)', attack: ['T1098.004'], severity: 'high' };
/** A git config holding settings that make git run a command (git-config-exec.ts); `what` names the first (read once the file is). */
const gitConfigPlace = (kind: string, first: string): PersistencePlace => ({
  what: `${kind} that makes git run a command on ordinary use, also when the user or a harness runs git there (${first})`, attack: ['T1546'], severity: 'high',
});

/**
 * Files tools read from HOME (the workspace) on every run: curl's `connect-to` sends a later `curl` of an allowed
 * name to the metadata address, a pip or npm index swaps the packages, pdb and gdb run their commands (a red-team
 * review, session 41: a `.curlrc` planted in one call turned a later call's download into a metadata read).
 */
const TOOL_CONFIG: PersistencePlace = { what: 'tool configuration later commands obey (it can redirect their connections, swap their package index or run commands)', attack: ['T1546'], severity: 'medium' };
const TOOL_FILES = ['.curlrc', '.config/.curlrc', '.wgetrc', '.config/pip/pip.conf', '.pip/pip.conf', '.npmrc', '.yarnrc', '.yarnrc.yml', '.pdbrc', '.gdbinit'];
const COMMONDIR: PersistencePlace = { ...GIT_HOOK, what: 'git commondir file (moves the repository\'s config and hooks to the directory it names)' };

/** A place that could not be looked into: a directory with more entries than the watch reads. */
const crowded = (p: PersistencePlace): PersistencePlace => ({ ...p, what: `directory too crowded to check (more than ${MAX_ENTRIES} entries) holding a ${p.what}` });
/** A symbolic link on the way to (or over) a place: where it points is where git, Python or the shell will look. */
const linkPlace = (p: PersistencePlace): PersistencePlace => ({ ...p, what: `symbolic link on the way to a ${p.what}` });

/** Files a shell reads at start or exit (Debian's .bashrc sources .bash_aliases; fish reads its config.fish). */
const SHELL_FILES = ['.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.bash_aliases', '.profile', '.zshrc', '.zprofile', '.zshenv',
  '.zlogin', '.zlogout', '.config/fish/config.fish'];
/** The hooks git runs (githooks(5)); other names in a hooks directory are never run, so they are looked up, not listed. */
const GIT_HOOKS = [
  'applypatch-msg', 'pre-applypatch', 'post-applypatch', 'pre-commit', 'pre-merge-commit', 'prepare-commit-msg', 'commit-msg',
  'post-commit', 'pre-rebase', 'post-checkout', 'post-merge', 'pre-push', 'pre-receive', 'update', 'proc-receive', 'post-receive',
  'post-update', 'reference-transaction', 'push-to-checkout', 'pre-auto-gc', 'post-rewrite', 'sendemail-validate',
  'fsmonitor-watchman', 'p4-changelist', 'p4-prepare-changelist', 'p4-post-changelist', 'p4-pre-submit', 'post-index-change',
];
/** Entries read from one watched directory; past this the directory itself is reported (a crowd can hide a file). */
const MAX_ENTRIES = 4096;
/** Bytes of a git config read (git reads all of it: a bigger one is reported as such, never half-checked). */
const MAX_GIT_CONFIG = 4 * 1024 * 1024;
/** Submodule git directories (and name parts) looked into per look, over all repositories; past it, the place says so. */
const MAX_MODULE_DIRS = 64;
/** Levels of `modules/` (nested submodules and names with slashes) looked into below a repository's git directory. */
const MAX_MODULE_DEPTH = 4;
/** Levels below the workspace searched for repositories (`a/b/c/.git` is at level four; levels one and two are always looked at). */
const MAX_REPO_DEPTH = 6;
/** Directories read per look while searching for nested repositories. */
const MAX_REPO_SEARCH_DIRS = 1000;
/**
 * Directories never searched for nested repositories: package, environment and build trees, which hold
 * thousands of directories and no repository anyone runs git in for the agent's work.
 */
const NO_REPO_SEARCH = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', 'site-packages', 'dist-packages', '.tox', '.nox',
  '.mypy_cache', '.pytest_cache', '.ruff_cache', '.cache', '.npm', '.cargo', '.rustup', '.local', 'target']);
/** Symbolic links followed while resolving one path (as the kernel's 40, but these must stay inside the workspace). */
const MAX_HOPS = 16;

/** lstat of root/rel without throwing, only below real directories; undefined when absent. ctime: the agent cannot set it back. */
function stamp(root: string, rel: string): [string, number] | undefined {
  const slash = rel.lastIndexOf('/');
  if (slash > 0 && !realDirs(root, rel.slice(0, slash))) return undefined;
  try {
    const st = lstatSync(join(root, rel));
    // (an overlay whiteout — a character device 0:0 in a writable root's layer — is a file the agent
    // deleted from the image, not one it planted; an agent cannot make device nodes itself)
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    return [`${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.mode}:${st.ino}`, st.ctimeMs];
  } catch { return undefined; }
}

/** An entry of a watched directory: a real directory (dir), a symbolic link (link), or another file. */
export interface PlaceEntry { name: string; dir: boolean; link: boolean }

/**
 * Up to `max` entries of root/rel when it and every directory above it are real (never a symlink),
 * read lazily; `crowded` when there were more.
 */
function listDir(root: string, rel: string, max: number): { list: PlaceEntry[]; crowded: boolean } {
  const list: PlaceEntry[] = [];
  if (!realDirs(root, rel)) return { list, crowded: false };
  try {
    const d = opendirSync(join(root, rel));
    try {
      for (let e = d.readSync(); e !== null; e = d.readSync()) {
        if (list.length >= max) return { list, crowded: true };
        list.push({ name: e.name, dir: e.isDirectory(), link: e.isSymbolicLink() });
      }
    } finally { d.closeSync(); }
  } catch { /* gone or unreadable: nothing to watch */ }
  return { list, crowded: false };
}

/** Up to 256 entries of root/rel (see listDir): the walk of a writable root's layer. */
function entries(root: string, rel: string): PlaceEntry[] {
  return listDir(root, rel, 256).list;
}

/**
 * rel with every symbolic link on its way resolved, as long as each stays inside root — a relative
 * target, or an absolute one under `mount` (where root appears to the agent) — with the links it
 * went through (paths relative to root). Undefined when a link leads out of root, loops, or a
 * component on the way is not a directory; a missing component ends the walk with the path as it
 * stands (there is nothing there to look at). Read with lstat and readlink only: nothing is opened.
 */
export function resolveInside(root: string, rel: string, mount: string): { real: string; links: string[] } | undefined {
  const todo = rel.split('/').filter(Boolean);
  const done: string[] = [];
  const links: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') { if (!done.length) return undefined; done.pop(); continue; }
    const here = [...done, part].join('/');
    let st;
    try { st = lstatSync(join(root, here)); } catch { return { real: [here, ...todo].join('/'), links }; }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_HOPS) return undefined;
      links.push(here);
      let target: string;
      try { target = readlinkSync(join(root, here)); } catch { return undefined; }
      if (target.startsWith('/')) {
        const norm = posix.normalize(target);
        if (norm !== mount && !norm.startsWith(`${mount}/`)) return undefined;
        done.length = 0;
        todo.unshift(...norm.slice(mount.length).split('/').filter(Boolean));
      } else {
        todo.unshift(...target.split('/').filter(Boolean));
      }
      continue;
    }
    if (todo.length && !st.isDirectory()) return undefined;
    done.push(part);
  }
  return { real: done.join('/'), links };
}

/** path (relative to the workspace) → [stamp, place] for every persistence file now present. */
/** Per place: its state, what it is, and its inode's change time (ms since the epoch: the kernel's clock, which no file call can set back). */
export type PersistenceSnapshot = Map<string, [string, PersistencePlace, number]>;

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
    add: (rel, place, own) => { const s = stamp(root, rel); if (s) out.set(rel, [own ?? s[0], place, s[1]]); },
    entries: (rel) => entries(root, rel),
    linkOnWay: (rel) => linkOnWay(root, rel),
  });
  return out;
}

/**
 * The workspace's persistence places now. `mount` is where the workspace appears in the sandbox (a
 * link's absolute target under it is the workspace's own file).
 */
export function snapshotPersistence(root: string, mount = '/workspace', repoCache?: RepoSearchCache, listCache?: ListCache): PersistenceSnapshot {
  const out: PersistenceSnapshot = new Map();
  workspacePlaces(workspaceLook(root, mount, out, listCache), repoCache);
  return out;
}

/** What the workspace walk looks with: places by the path the agent's tools use, links on the way resolved inside root. */
interface WorkspaceLook {
  /** Adds rel (its state read where its links lead) and every link on its way, as places. */
  add(rel: string, place: PersistencePlace, own?: (real: string) => string | undefined): void;
  /**
   * add() for each of `names` in directory rel. When nothing on the way to rel is a link, rel is resolved once and a
   * name that is absent costs one lstat (a repository's 28 hook names, looked up each call: ≈ 6 apiece before).
   */
  addNamed(rel: string, names: readonly string[], place: PersistencePlace): void;
  /** The entries of directory rel (links on the way resolved and added as places); a crowded one is added itself unless told not to. */
  /** (`cached`: a directory unchanged since it was last read is not read again — ListCache; one look per call reads the user site) */
  list(rel: string, place: PersistencePlace, flagCrowded?: boolean, cached?: boolean): PlaceEntry[];
  /** The real path of rel (links resolved inside root), or undefined (out of root). */
  real(rel: string): string | undefined;
  root: string;
  mount: string;
}

function workspaceLook(root: string, mount: string, out: PersistenceSnapshot, listCache?: ListCache): WorkspaceLook {
  const links = (rel: string, place: PersistencePlace): string | undefined => {
    const r = resolveInside(root, rel, mount);
    const via = r ? r.links : [linkOnWay(root, rel)].filter((l): l is string => l !== undefined);
    for (const l of via) {
      const st = stamp(root, l);
      let target = '';
      try { target = readlinkSync(join(root, l)); } catch { /* gone */ }
      if (st && !out.has(l)) out.set(l, [`${st[0]}>${target}`, linkPlace(place), st[1]]);
    }
    return r?.real;
  };
  return {
    root, mount,
    real: (rel) => resolveInside(root, rel, mount)?.real,
    add: (rel, place, own) => {
      const real = links(rel, place);
      if (real === undefined) return;
      const s = stamp(root, real);
      if (!s) return;
      const mine = own ? own(real) : s[0];
      // (rel may itself be a link, added above: its own state and its target's make the stamp, the later change time the time)
      const link = out.get(rel);
      if (mine !== undefined) out.set(rel, [link ? `${link[0]}|${mine}` : mine, place, Math.max(s[1], link?.[2] ?? 0)]);
    },
    addNamed(rel, names, place) {
      const r = resolveInside(root, rel, mount);
      if (!r || r.links.length) { for (const n of names) this.add(`${rel}/${n}`, place); return; }
      if (!realDirs(root, r.real)) return;
      for (const n of names) {
        try { lstatSync(join(root, r.real, n)); } catch { continue; }
        this.add(`${rel}/${n}`, place);
      }
    },
    list: (rel, place, flagCrowded = true, cached = false) => {
      const real = links(rel, place);
      if (real === undefined) return [];
      const { list, crowded: full } = cached && listCache ? cachedListDir(root, real, listCache) : listDir(root, real, MAX_ENTRIES);
      if (full && flagCrowded) { const s = stamp(root, real); if (s) out.set(rel, [s[0], crowded(place), s[1]]); }
      return list;
    },
  };
}

function workspacePlaces(look: WorkspaceLook, repoCache?: RepoSearchCache): void {
  const { add, list } = look;
  for (const f of SHELL_FILES) add(f, SHELL);
  for (const f of TOOL_FILES) add(f, TOOL_CONFIG);
  for (const f of ['authorized_keys', 'authorized_keys2', 'rc']) add(`.ssh/${f}`, SSH);
  pythonSites(look, '.local/lib', false);
  // git: the user's own config (HOME is the workspace) and every repository at the top of the
  // workspace, one level down, or nested deeper (nestedRepositories: bounded) — its hooks, and its
  // config when it holds settings that run commands (core.fsmonitor, filters, diff drivers, hooksPath,
  // include, …). A config file itself is not the place: `git init` and `git config user.email` write
  // it in ordinary work; only those settings are.
  gitConfig(look, '.gitconfig', 'user git config');
  gitConfig(look, '.config/git/config', 'user git config');
  // (a workspace with thousands of top-level entries is ordinary: the repositories among the first
  // MAX_ENTRIES are looked at, and the crowd is not itself reported)
  const top = list('', GIT_HOOK, false).filter((e) => (e.dir || e.link) && e.name !== '.git');
  virtualEnvironments(look, top);
  const budget = { dirs: MAX_MODULE_DIRS };
  for (const r of ['', ...top.map((e) => `${e.name}/`), ...nestedRepositories(look.root, top, repoCache)]) {
    const git = gitDir(look, r);
    if (git !== undefined) gitDirPlaces(look, git, budget, 0);
  }
  for (const e of list('.config/autostart', AUTOSTART)) if (!e.dir) add(`.config/autostart/${e.name}`, AUTOSTART);
  // (systemd reads user units from both: systemd.unit(5))
  for (const dir of ['.config/systemd/user', '.local/share/systemd/user']) {
    for (const e of list(dir, SYSTEMD)) {
      if (!e.dir) add(`${dir}/${e.name}`, SYSTEMD);
      else for (const f of list(`${dir}/${e.name}`, SYSTEMD)) if (!f.dir) add(`${dir}/${e.name}/${f.name}`, SYSTEMD);
    }
  }
}

/**
 * What a session remembers of the directories searched for nested repositories, so a look reads only
 * the directories that changed: per directory, its lstat key (inode, modification and change times),
 * when it was read, whether it holds a `.git`, and its subdirectories.
 */
export type RepoSearchCache = Map<string, SearchedDir>;
export interface SearchedDir { key: string; readAt: number; git: boolean; subdirs: string[] }

/**
 * A directory read this soon after its last change may have changed again within the same timestamp
 * tick (file times are coarse, a few ms): it is read again at the next look rather than trusted.
 */
const RACY_MS = 100;

/**
 * Repositories (prefixes ending in `/`) two to MAX_REPO_DEPTH levels down (`src/github.com/org/tool/`,
 * a vendored checkout inside a project): found breadth first through real directories only (a link
 * is not followed: it may lead out of the workspace), outside package and build trees, looking at
 * most at MAX_REPO_SEARCH_DIRS directories per look so a huge workspace costs each call a bounded time.
 * A repository past that bound is not looked at (the shallower ones come first). With `cache`, a
 * directory unchanged since it was read is one lstat: on this checkout (≈ 80 directories searched,
 * ≈ 3 000 files with its build output) the search adds ≈ 0.1 ms to a look, ≈ 3 ms reading them all.
 */
function nestedRepositories(root: string, top: PlaceEntry[], cache?: RepoSearchCache): string[] {
  const found: string[] = [];
  const seen: RepoSearchCache = new Map();
  let queue = top.filter((e) => e.dir && !NO_REPO_SEARCH.has(e.name)).map((e) => e.name);
  let budget = MAX_REPO_SEARCH_DIRS;
  for (let depth = 2; depth <= MAX_REPO_DEPTH && queue.length && budget > 0; depth++) {
    const next: string[] = [];
    for (const d of queue) {
      if (budget-- <= 0) break;
      const dir = searchDir(join(root, d), cache?.get(d));
      if (!dir) continue;
      seen.set(d, dir);
      // (a repository at the top level is looked at already)
      if (dir.git && depth > 2) found.push(`${d}/`);
      for (const sub of dir.subdirs) next.push(`${d}/${sub}`);
    }
    queue = next;
  }
  if (cache) { cache.clear(); for (const [k, v] of seen) cache.set(k, v); }
  return found;
}

/**
 * Directory listings kept between looks, by the directory's real path: a user site of thousands of packages was read
 * whole after every tool call (≈ 3 ms for 2 000 entries) to find its `.pth` files; now one lstat while it is unchanged.
 */
export type ListCache = Map<string, { key: string; readAt: number; list: PlaceEntry[]; crowded: boolean }>;

/** listDir through the cache: reused while the directory is unchanged and was read well after its last change (RACY_MS). */
function cachedListDir(root: string, rel: string, cache: ListCache): { list: PlaceEntry[]; crowded: boolean } {
  let st;
  try { st = lstatSync(join(root, rel)); } catch { cache.delete(rel); return { list: [], crowded: false }; }
  const key = `${st.ino}:${st.mtimeMs}:${st.ctimeMs}`;
  const known = cache.get(rel);
  if (known && known.key === key && known.readAt - Math.max(st.mtimeMs, st.ctimeMs) > RACY_MS) return known;
  const readAt = Date.now();
  const got = listDir(root, rel, MAX_ENTRIES);
  cache.set(rel, { key, readAt, ...got });
  return got;
}

/** One directory of the search: from `known` when it has not changed since (and was read well after its last change), else read. */
function searchDir(path: string, known: SearchedDir | undefined): SearchedDir | undefined {
  let st;
  try { st = lstatSync(path); } catch { return undefined; }
  if (!st.isDirectory()) return undefined;
  const key = `${st.ino}:${st.mtimeMs}:${st.ctimeMs}`;
  if (known && known.key === key && known.readAt - Math.max(st.mtimeMs, st.ctimeMs) > RACY_MS) return known;
  const readAt = Date.now();
  // (names only, one call: what is looked at in a repository found is resolved inside the workspace by look.add)
  let list: Dirent[];
  try { list = readdirSync(path, { withFileTypes: true }); } catch { return undefined; }
  return { key, readAt, git: list.some((e) => e.name === '.git'), subdirs: list.filter((e) => e.isDirectory() && !NO_REPO_SEARCH.has(e.name)).map((e) => e.name) };
}

/**
 * A git directory's places: its hooks, its configs, and those of the git directories inside it —
 * submodules' (`modules/<name>`, a name may hold slashes, and modules nest), whose config's commands
 * run on the superproject's own `git status` (git runs one in each submodule) and whose hooks run on
 * `git submodule update`; and linked worktrees' own config.worktree. Checked: a fsmonitor planted in
 * .git/modules/sub/config ran on `git status` at the top.
 */
function gitDirPlaces(look: WorkspaceLook, git: string, budget: { dirs: number }, depth: number): void {
  look.addNamed(`${git}/hooks`, GIT_HOOKS, GIT_HOOK);
  // (`commondir` makes git read config and hooks from the directory it names: a red-team review, session 41, copied .git
  // aside, planted core.fsmonitor in the copy and pointed commondir at it. A repository's own git directory never has one;
  // a linked worktree's has, and is not walked here)
  const common = commonDir(look, git);
  if (common !== undefined && common !== git && depth < MAX_MODULE_DEPTH && budget.dirs-- > 0) gitDirPlaces(look, common, budget, depth + 1);
  gitConfig(look, `${git}/config`, depth ? 'submodule git config' : 'repository git config');
  gitConfig(look, `${git}/config.worktree`, depth ? 'submodule git config' : 'repository git config');
  for (const w of look.list(`${git}/worktrees`, GIT_HOOK)) if (w.dir) gitConfig(look, `${git}/worktrees/${w.name}/config.worktree`, 'worktree git config');
  if (depth < MAX_MODULE_DEPTH) moduleDirs(look, `${git}/modules`, budget, depth);
}

/** The submodule git directories under dir: one holds HEAD; a directory without it is part of a name with a slash. */
function moduleDirs(look: WorkspaceLook, dir: string, budget: { dirs: number }, depth: number): void {
  for (const e of look.list(dir, GIT_HOOK)) {
    if (!e.dir) continue;
    if (budget.dirs <= 0) { look.add(dir, { ...GIT_HOOK, what: `submodule git directories past the ${MAX_MODULE_DIRS} looked into (hooks and config beyond them are not checked)` }); return; }
    budget.dirs--;
    const p = `${dir}/${e.name}`;
    const head = look.real(`${p}/HEAD`);
    let isGit = false;
    try { isGit = head !== undefined && lstatSync(join(look.root, head)).isFile(); } catch { /* no HEAD: a name part */ }
    if (isGit) gitDirPlaces(look, p, budget, depth + 1);
    else if (depth + 1 < MAX_MODULE_DEPTH) moduleDirs(look, p, budget, depth + 1);
  }
}

/**
 * The git directory of a repository at r (a prefix ending in `/`, or '' for the workspace): `r.git`
 * when it is a directory, or the one a `.git` file names (`gitdir: …`, what `git worktree` and
 * submodules write, and what an agent can write to move a repository's hooks and config elsewhere).
 */
function gitDir(look: WorkspaceLook, r: string): string | undefined {
  const real = look.real(`${r}.git`);
  if (real === undefined) return undefined;
  let st;
  try { st = lstatSync(join(look.root, real)); } catch { return undefined; }
  if (st.isDirectory()) return `${r}.git`;
  const text = readPlainFile(look.root, real, 4096)?.toString('utf8');
  const m = text === undefined ? null : /^gitdir:\s*(.+?)\s*$/m.exec(text);
  if (!m) return undefined;
  const target = posix.normalize(m[1]!.startsWith('/') ? m[1]! : `${look.mount}/${r}${m[1]!}`);
  if (target.startsWith(`${look.mount}/`)) return target.slice(look.mount.length + 1);
  // (a git directory the agent cannot be followed into — the host's, for a worktree workspace — is
  // the `.git` file itself: a session's baseline holds a real one, so only a changed one is reported)
  look.add(`${r}.git`, { ...GIT_HOOK, what: 'git directory link (a `.git` file naming a git directory outside the workspace, whose hooks and config git uses)' });
  return undefined;
}

/** The directory a git directory's `commondir` file names, inside the workspace (the file itself is added as a place). */
function commonDir(look: WorkspaceLook, git: string): string | undefined {
  const rel = `${git}/commondir`;
  const real = look.real(rel);
  if (real === undefined) { look.add(rel, COMMONDIR); return undefined; }
  const text = readPlainFile(look.root, real, 4096)?.toString('utf8').trim();
  if (text === undefined) return undefined;
  const target = posix.normalize(text.startsWith('/') ? text : `${look.mount}/${git}/${text}`);
  const inside = target.startsWith(`${look.mount}/`) ? target.slice(look.mount.length + 1) : undefined;
  // (what `git worktree add` writes: a linked worktree's git directory, X/worktrees/NAME, names X — walked already)
  const m = /^(.*)\/worktrees\/[^/]+$/.exec(git);
  if (m && inside === m[1]) return undefined;
  look.add(rel, COMMONDIR);
  return inside;
}

/**
 * The Python sites under `lib` (`.local/lib`, a virtual environment's `lib`): each `pythonX.Y/site-packages` start-up
 * hooks (looked up by name, so a site of thousands of packages hides neither), and its `.pth` files. A `.pth` runs its
 * `import` lines at every start; pip and setuptools write some (editable installs, namespace packages), so a file is a
 * place only for lines none of them writes (python-pth.ts; a red-team review, session 40); its path lines put
 * directories on sys.path, where a start-up hook is imported from too (round 2 of that review: a path line to
 * /workspace/.cache/pyhook and a usercustomize.py there). A crowded site is not itself reported: the first MAX_ENTRIES
 * entries are read; a hook in any other form (a compiled module, an extension) is found there.
 */
function pythonSites(look: WorkspaceLook, lib: string, venv: boolean): void {
  for (const py of look.list(lib, PY_HOOK)) {
    if (!py.name.startsWith('python') || !(py.dir || py.link)) continue;
    const site = `${lib}/${py.name}/site-packages`;
    look.addNamed(site, PY_HOOK_NAMES, PY_HOOK);
    for (const e of look.list(site, PY_HOOK, false, true)) {
      if (!e.dir && e.name.endsWith('.pth')) pthFile(look, site, e.name, venv);
      else if (HOOK_MODULE.test(e.name) && !PY_HOOK_NAMES.includes(e.name)) look.add(`${site}/${e.name}`, PY_HOOK);
    }
  }
}

/** Top-level directories looked into for a nested virtual environment (`proj/.venv`). */
const MAX_VENV_PARENTS = 256;

/**
 * The workspace's virtual environments (a `pyvenv.cfg` at the top of a directory, or of its `.venv` or `venv`): their
 * sites run `.pth` lines and start-up hooks in every python of that environment, as the user site does (a red-team
 * review, session 41: a `.pth` in `.venv/lib/python3.11/site-packages` made each later `.venv/bin/python` probe the
 * internal network).
 */
function virtualEnvironments(look: WorkspaceLook, top: PlaceEntry[]): void {
  const dirs = top.filter((e) => e.dir);
  const candidates = [...dirs.map((e) => e.name), ...dirs.slice(0, MAX_VENV_PARENTS).flatMap((e) => [`${e.name}/.venv`, `${e.name}/venv`])];
  for (const v of candidates) {
    try { if (!lstatSync(join(look.root, v, 'pyvenv.cfg')).isFile()) continue; } catch { continue; }
    pythonSites(look, `${v}/lib`, true);
  }
}

/** Bytes of a `.pth` read (site.py reads all of it; a bigger one is reported as such). */
const MAX_PTH = 256 * 1024;

/** Python's start-up hooks as a directory on sys.path holds them: a module, a compiled one, a package. */
const PY_HOOK_NAMES = ['usercustomize.py', 'sitecustomize.py', 'usercustomize.pyc', 'sitecustomize.pyc', 'usercustomize/__init__.py', 'sitecustomize/__init__.py'];
/** Any other form Python imports them in (an extension module `usercustomize.cpython-311-x86_64-linux-gnu.so`, a package directory). */
const HOOK_MODULE = /^(user|site)customize(\..*)?$/;
/** Directories on sys.path from .pth path lines looked into per look (a .pth may list thousands). */
const MAX_PTH_DIRS = 64;

function pthFile(look: WorkspaceLook, site: string, name: string, venv: boolean): void {
  const rel = `${site}/${name}`;
  const real = look.real(rel);
  if (real === undefined) { look.add(rel, pthPlace('where it leads is outside the workspace')); return; }
  const buf = readPlainFile(look.root, real, MAX_PTH, true);
  const code = buf === undefined ? [`not a plain file of at most ${MAX_PTH} bytes`] : plantedPthLines(buf.toString('utf8'), venv);
  if (code.length) look.add(rel, pthPlace(code[0]!), () => code.join('\n'));
  // (each directory a path line puts on sys.path, inside the workspace: a start-up hook there is imported as well)
  for (const dir of buf === undefined ? [] : pthPathLines(buf.toString('utf8')).slice(0, MAX_PTH_DIRS)) {
    const inWs = dir.startsWith('/') ? (dir === look.mount || dir.startsWith(`${look.mount}/`) ? dir.slice(look.mount.length + 1) : undefined) : posix.normalize(`${site}/${dir}`);
    if (inWs === undefined || inWs.startsWith('..')) continue;
    const dirRel = inWs.replace(/\/+$/, '').replace(/^\.$/, '');
    if (dirRel) look.addNamed(dirRel, PY_HOOK_NAMES, PY_HOOK); else for (const n of PY_HOOK_NAMES) look.add(n, PY_HOOK);
  }
}

/** A git config at rel when it holds settings that run commands (or is too big to read whole: git reads all of it). */
function gitConfig(look: WorkspaceLook, rel: string, kind: string): void {
  const real = look.real(rel);
  if (real === undefined) { look.add(rel, gitConfigPlace(kind, 'where it leads is outside the workspace')); return; }
  let st;
  try { st = lstatSync(join(look.root, real)); } catch { return; }
  const buf = st.isFile() ? readPlainFile(look.root, real, MAX_GIT_CONFIG, true) : undefined;
  const exec = buf === undefined ? [`not a plain file of at most ${MAX_GIT_CONFIG} bytes`] : gitConfigExecEntries(buf.toString('utf8'));
  if (exec.length) look.add(rel, gitConfigPlace(kind, exec[0]!), () => exec.join('\n'));
}

/** Files that appeared or changed from `before` to `after`, with their place. */
export function persistenceChanges(before: PersistenceSnapshot, after: PersistenceSnapshot): { path: string; created: boolean; place: PersistencePlace; ctimeMs: number }[] {
  const out: { path: string; created: boolean; place: PersistencePlace; ctimeMs: number }[] = [];
  for (const [path, [s, place, ctimeMs]] of after) {
    const old = before.get(path);
    if (!old || old[0] !== s) out.push({ path, created: !old, place, ctimeMs });
  }
  return out;
}
