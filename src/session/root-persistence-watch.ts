// Why: with a writable image root (filesystem.root_writable) the agent can change its own system
// files, and what it plants there runs again in later tool calls: /etc/ld.so.preload loads a
// library into every process, /etc/profile.d and /etc/bash.bashrc run in every login shell, cron
// and systemd run jobs, sitecustomize.py runs in every python3, sudoers and passwd grant rights.
// The copy-on-write layer holds exactly the files the session changed, so looking at it after each
// tool call (lstat, below real directories only: persistence-watch.ts's walk) finds these without
// a file sensor. A symbolic link planted there is a change too: over a file (`ln -sf /tmp/x
// /etc/ld.so.preload`) or over a whole place or a directory on its way (`/etc/profile.d`,
// `/etc/systemd`, a python3.X directory made a link to the agent's own files), which the walk
// never follows and so would never look into: the link itself is flagged, at the place's severity.
// A red-team review (session 41) added what later calls run without naming it: a program on the tool PATH that
// replaces or shadows the image's (`/usr/local/bin/ls` that probes, then runs the real one), a changed shared
// library, `.pth` lines with code in the system sites, /etc/gitconfig settings that run commands, ld.so.conf and
// the other shells' files.
// Threat it stops: runtime persistence and privilege setup inside a writable root
// (T1574.006, T1546.004, T1053.003, T1543.002, T1546.018, T1548.003, T1136/T1098, T1574.007, T1554).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gitConfigExecEntries } from './git-config-exec.js';
import { snapshotPlaces, type PersistencePlace, type PersistenceSnapshot } from './persistence-watch.js';
import { readPlainFile } from './plain-file.js';
import { plantedPthLines } from './python-pth.js';
import { TOOL_PATH } from './tool-env.js';

const PRELOAD: PersistencePlace = { what: 'dynamic linker preload list (a library loaded into every process)', attack: ['T1574.006'], severity: 'high' };
const SHELL: PersistencePlace = { what: 'system shell start-up file (runs in every login or interactive shell)', attack: ['T1546.004'], severity: 'high' };
const CRON: PersistencePlace = { what: 'cron job', attack: ['T1053.003'], severity: 'high' };
const SYSTEMD: PersistencePlace = { what: 'systemd unit', attack: ['T1543.002'], severity: 'high' };
const INIT: PersistencePlace = { what: 'init script', attack: ['T1037.004'], severity: 'high' };
const PY_HOOK: PersistencePlace = { what: 'Python start-up hook (runs in every python3)', attack: ['T1546.018'], severity: 'high' };
const PRIV: PersistencePlace = { what: 'sudo rule', attack: ['T1548.003'], severity: 'high' };
const ACCOUNT: PersistencePlace = { what: 'user account database', attack: ['T1136.001', 'T1098'], severity: 'high' };
const LIBRARY: PersistencePlace = { what: 'shared library of the image, changed (loaded by every program that links it)', attack: ['T1574.006'], severity: 'high' };
const pathProgram = (name: string, how: string): PersistencePlace => ({ what: `program on the tool PATH that ${how} the image's ${name} (later calls that run ${name} run it)`, attack: ['T1574.007', 'T1554'], severity: 'high' });
const pthPlace = (first: string): PersistencePlace => ({ what: `Python .pth file with code that runs in every python3 (${first.length > 80 ? `${first.slice(0, 80)}…` : first})`, attack: ['T1546.018'], severity: 'high' });
const gitPlace = (first: string): PersistencePlace => ({ what: `system git config that makes git run a command on ordinary use (${first})`, attack: ['T1546'], severity: 'high' });

/** Single files of the root, relative to it. */
const FILES: [string, PersistencePlace][] = [
  ['etc/ld.so.preload', PRELOAD], ['etc/ld.so.conf', PRELOAD], ['etc/profile', SHELL], ['etc/bash.bashrc', SHELL], ['etc/bash.bash_logout', SHELL],
  ['etc/environment', SHELL], ['etc/zsh/zshrc', SHELL], ['etc/zsh/zshenv', SHELL], ['etc/zsh/zprofile', SHELL], ['etc/zsh/zlogin', SHELL], ['etc/zsh/zlogout', SHELL], ['etc/crontab', CRON], ['etc/anacrontab', CRON], ['etc/rc.local', INIT], ['etc/sudoers', PRIV],
  ['etc/passwd', ACCOUNT], ['etc/shadow', ACCOUNT], ['etc/group', ACCOUNT],
];
/** Directories whose files are such places. */
const DIRS: [string, PersistencePlace][] = [
  ['etc/profile.d', SHELL], ['etc/cron.d', CRON], ['etc/cron.hourly', CRON], ['etc/cron.daily', CRON], ['etc/cron.weekly', CRON],
  ['etc/cron.monthly', CRON], ['var/spool/cron/crontabs', CRON], ['etc/systemd/system', SYSTEMD], ['lib/systemd/system', SYSTEMD],
  ['usr/lib/systemd/system', SYSTEMD], ['etc/init.d', INIT], ['etc/sudoers.d', PRIV], ['etc/ld.so.conf.d', PRELOAD],
];
/** Python library directories of the root, where sitecustomize.py / usercustomize.py take effect. */
const PY_PARENTS = ['usr/lib', 'usr/local/lib', 'opt/conda/lib', 'root/.local/lib'];

/** The tool PATH's directories relative to the root, in search order. */
const PATH_DIRS = TOOL_PATH.split(':').map((d) => d.slice(1));
/** Bytes of a `.pth` or git config read from the layer (a bigger one is reported as such). */
const MAX_READ = 256 * 1024;
/** A shared object's name (`libtinfo.so.6`, `pam_unix.so`). */
const SHARED_OBJECT = /\.so(\.\d+)*$/;

/**
 * Persistence files present in a writable root's copy-on-write layer (paths relative to the root). `lower` is the
 * image's own root: a program or library in the layer that is also there (or, for a program, in a later PATH
 * directory) replaces or shadows the image's; one that is new is an installed tool (`pip install` writes
 * /usr/local/bin/pytest), not a place.
 */
export function snapshotRootPersistence(upper: string, lower?: string): PersistenceSnapshot {
  const inImage = (rel: string): boolean => lower !== undefined && existsSync(join(lower, rel));
  return snapshotPlaces(upper, ({ add, entries, linkOnWay }) => {
    // (a link on the way to a place, or over it, is added itself: the walk below never follows it)
    const linked = (rel: string, place: PersistencePlace): boolean => {
      const link = linkOnWay(rel);
      if (link !== undefined) add(link, place);
      return link !== undefined;
    };
    for (const [f, place] of FILES) if (!linked(f, place)) add(f, place);
    for (const [d, place] of DIRS) if (!linked(d, place)) for (const e of entries(d)) if (!e.dir) add(`${d}/${e.name}`, place);
    const readText = (rel: string): string | undefined => readPlainFile(upper, rel, MAX_READ, true)?.toString('utf8');
    const gitExec = (text: string | undefined): string[] => (text === undefined ? ['not a plain file of at most 256 KiB'] : gitConfigExecEntries(text));
    const git = linkOnWay('etc/gitconfig') === undefined ? gitExec(readText('etc/gitconfig')) : [];
    if (git.length) add('etc/gitconfig', gitPlace(git[0]!), git.join('\n'));
    PATH_DIRS.forEach((d, i) => {
      if (linked(d, pathProgram('programs', 'replaces'))) return;
      for (const e of entries(d)) {
        if (e.dir) continue;
        const how = inImage(`${d}/${e.name}`) ? 'replaces' : PATH_DIRS.slice(i + 1).some((later) => inImage(`${later}/${e.name}`)) ? 'shadows' : undefined;
        if (how) add(`${d}/${e.name}`, pathProgram(e.name, how));
      }
    });
    for (const lib of ['usr/lib', 'usr/local/lib', ...entries('usr/lib').filter((e) => e.dir && e.name.endsWith('-linux-gnu')).map((e) => `usr/lib/${e.name}`)]) {
      for (const e of entries(lib)) if (!e.dir && SHARED_OBJECT.test(e.name) && inImage(`${lib}/${e.name}`)) add(`${lib}/${e.name}`, LIBRARY);
    }
    for (const parent of PY_PARENTS) {
      if (linked(parent, PY_HOOK)) continue;
      for (const py of entries(parent)) {
        if (!py.name.startsWith('python')) continue;
        if (py.link) { add(`${parent}/${py.name}`, PY_HOOK); continue; }
        if (!py.dir) continue;
        for (const site of ['site-packages', 'dist-packages']) {
          if (linked(`${parent}/${py.name}/${site}`, PY_HOOK)) continue;
          for (const e of entries(`${parent}/${py.name}/${site}`)) {
            const rel = `${parent}/${py.name}/${site}/${e.name}`;
            if (e.name === 'sitecustomize.py' || e.name === 'usercustomize.py') add(rel, PY_HOOK);
            else if (!e.dir && e.name.endsWith('.pth')) {
              const text = readText(rel);
              const code = text === undefined ? ['not a plain file of at most 256 KiB'] : plantedPthLines(text);
              if (code.length) add(rel, pthPlace(code[0]!), code.join('\n'));
            }
          }
        }
        for (const e of entries(`${parent}/${py.name}`)) if (e.name === 'sitecustomize.py') add(`${parent}/${py.name}/${e.name}`, PY_HOOK);
      }
    }
  });
}
