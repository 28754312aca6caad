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
// Threat it stops: runtime persistence and privilege setup inside a writable root
// (T1574.006, T1546.004, T1053.003, T1543.002, T1546.018, T1548.003, T1136/T1098).
import { snapshotPlaces, type PersistencePlace, type PersistenceSnapshot } from './persistence-watch.js';

const PRELOAD: PersistencePlace = { what: 'dynamic linker preload list (a library loaded into every process)', attack: ['T1574.006'], severity: 'high' };
const SHELL: PersistencePlace = { what: 'system shell start-up file (runs in every login or interactive shell)', attack: ['T1546.004'], severity: 'high' };
const CRON: PersistencePlace = { what: 'cron job', attack: ['T1053.003'], severity: 'high' };
const SYSTEMD: PersistencePlace = { what: 'systemd unit', attack: ['T1543.002'], severity: 'high' };
const INIT: PersistencePlace = { what: 'init script', attack: ['T1037.004'], severity: 'high' };
const PY_HOOK: PersistencePlace = { what: 'Python start-up hook (runs in every python3)', attack: ['T1546.018'], severity: 'high' };
const PRIV: PersistencePlace = { what: 'sudo rule', attack: ['T1548.003'], severity: 'high' };
const ACCOUNT: PersistencePlace = { what: 'user account database', attack: ['T1136.001', 'T1098'], severity: 'high' };

/** Single files of the root, relative to it. */
const FILES: [string, PersistencePlace][] = [
  ['etc/ld.so.preload', PRELOAD], ['etc/profile', SHELL], ['etc/bash.bashrc', SHELL], ['etc/environment', SHELL],
  ['etc/zsh/zshrc', SHELL], ['etc/crontab', CRON], ['etc/anacrontab', CRON], ['etc/rc.local', INIT], ['etc/sudoers', PRIV],
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

/** Persistence files present in a writable root's copy-on-write layer (paths relative to the root). */
export function snapshotRootPersistence(upper: string): PersistenceSnapshot {
  return snapshotPlaces(upper, ({ add, entries, linkOnWay }) => {
    // (a link on the way to a place, or over it, is added itself: the walk below never follows it)
    const linked = (rel: string, place: PersistencePlace): boolean => {
      const link = linkOnWay(rel);
      if (link !== undefined) add(link, place);
      return link !== undefined;
    };
    for (const [f, place] of FILES) if (!linked(f, place)) add(f, place);
    for (const [d, place] of DIRS) if (!linked(d, place)) for (const e of entries(d)) if (!e.dir) add(`${d}/${e.name}`, place);
    for (const parent of PY_PARENTS) {
      if (linked(parent, PY_HOOK)) continue;
      for (const py of entries(parent)) {
        if (!py.name.startsWith('python')) continue;
        if (py.link) { add(`${parent}/${py.name}`, PY_HOOK); continue; }
        if (!py.dir) continue;
        for (const site of ['site-packages', 'dist-packages']) {
          if (linked(`${parent}/${py.name}/${site}`, PY_HOOK)) continue;
          for (const e of entries(`${parent}/${py.name}/${site}`)) if (e.name === 'sitecustomize.py' || e.name === 'usercustomize.py') add(`${parent}/${py.name}/${site}/${e.name}`, PY_HOOK);
        }
        for (const e of entries(`${parent}/${py.name}`)) if (e.name === 'sitecustomize.py') add(`${parent}/${py.name}/${e.name}`, PY_HOOK);
      }
    }
  });
}
