// Why: what a session's sandbox sees as its files — the root (the host's, a read-only image, or an
// image under this session's own writable layer), the workspace (a host directory through an
// idmapped view, or one Corral makes, capped in memory or on disk, seeded from the image), the
// read-only mounts, and the session directory that holds them — set up before the sandbox starts and
// removed after it. Split out of session.ts, which keeps the calls, the events and the alerts.
// Threats stopped: a policy or caller that shows the sandbox a hidden path (~/.ssh, Corral's own
// store) through a mount, a root or a workspace, however linked (checked on real paths); a mistyped
// workspace path making directories anywhere on the host (only the workspace itself is made); a
// workspace the sandbox user cannot reach, or a cap silently dropped (both refused with the field);
// an agent filling the host's disk through its root or workspace (each capped, and fullness reported).
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { DEFAULT_HOME } from '../store/home.js';
import { sandboxViews } from '../sandbox/host-views.js';
import { mountSizedTmpfs, mountSizedWorkspace, removeSessionDir, sessionDirPrefix } from '../sandbox/workspace-quota.js';
import { mountDiskWorkspace } from '../sandbox/workspace-disk.js';
import { imageWorkspaceSource, mountImageWorkspace } from '../sandbox/image-workspace.js';
import { filledSize } from '../sandbox/fs-full.js';
import { hostIdOf, SANDBOX_UID } from '../sandbox/sandbox-ids.js';
import { atOrUnder, keepRoots } from '../sandbox/mount-template.js';
import { idmapBinary } from '../sandbox/launcher.js';
import { writeFreshFile } from '../sandbox/fresh-file.js';
import { pathKindInRoot, workspacePathInRootProblem } from '../sandbox/image-path.js';
import { hostMountProblem, hostRootProblem } from '../sandbox/host-workspace.js';
import { execFile } from '../util/exec-file.js';
import { policyFieldError } from '../policy/field-source.js';
import { effectiveWorkspaceDisk } from '../policy/schema.js';
import { SessionSetupError } from './session-setup-error.js';
import type { Runtime } from './runtime.js';
import type { SessionOptions } from './session.js';

/** What of the runtime the files need: where sessions live, the disk workspace pool, and its two ways of saying things. */
export type FilesRuntime = Pick<Runtime, 'runDir' | 'store' | 'diskPool' | 'mountTemplate' | 'viewEmpty' | 'onError' | 'warnOnce'>;

/** A read-only mount as bwrap will bind it: the host path (its idmapped view once shown) and where the sandbox sees it. */
export interface SandboxMount { host: string; path: string }

/** Paths inside the session directory that bwrap binds over the sandbox's own. */
export interface SessionDirFiles { resolv: string; hosts: string; empty: string }

/** What filled up since the last look (each reported once, until it has room again): see limit-alerts.ts. */
export interface Fullness {
  workspaceFilled?: number;
  rootLayerFilled?: number;
  scratchFilled?: { path: string; bytes: number };
}

/**
 * The real path of `p` (absolute) with links resolved, for a path that may not exist yet: the deepest
 * existing ancestor's real path plus the rest (`/tmp/link-to-etc/new` is `/etc/new`).
 */
export function realPathBelow(p: string): string {
  const rest: string[] = [];
  for (let at = p; ; at = dirname(at)) {
    try { return join(realpathSync(at), ...rest.reverse()); } catch { /* not there (yet): one level up */ }
    if (at === dirname(at)) return p;
    rest.push(basename(at));
  }
}

/** The parent of `p` (a real path) when it is not an existing directory, else undefined. */
function missingParent(p: string): string | undefined {
  const parent = dirname(p);
  try { if (statSync(parent).isDirectory()) return undefined; } catch { /* missing: said below */ }
  return parent;
}

/** bwrap runs as the sandbox's host uid: every directory above a host workspace must let it pass (o+x). */
function assertReachable(ws: string, uid: number, what = 'workspace'): void {
  const parts = resolvePath(ws).split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    const st = statSync(dir);
    if (!(st.mode & 0o001) && st.uid !== uid) {
      throw new SessionSetupError(`${what} ${ws}: the sandbox user (host uid ${uid}) cannot reach it: ${dir} is mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} (each directory above the ${what === 'workspace' ? 'workspace' : 'root'} needs o+x)`);
    }
  }
}

function expandHome(p: string): string {
  return p.startsWith('~/') ? join(process.env.HOME ?? '/root', p.slice(2)) : p;
}

/** A path with its links resolved, or as given (made absolute) where it does not exist. */
function real(p: string): string {
  try { return realpathSync(p); } catch { return resolvePath(p); }
}

/** The idmap helper, unless CORRAL_NO_IDMAP=1 turns idmapped mounts off. */
function idmapHelper(): string | undefined {
  return process.env.CORRAL_NO_IDMAP === '1' ? undefined : idmapBinary();
}

/** One session's files: made by createDir() and prepare() before its sandbox starts, removed by removeDir(). */
export class SessionFiles {
  /** The session's own directory under the runtime's run dir (resolver, hosts, workspace, views, layers). */
  dir = '';
  /** What bwrap shows as / when not the host's root: the image, or this session's writable layer over it. */
  image?: string;
  /** The image root (filesystem.root) on the host, when the session runs in one. */
  imageHost?: string;
  /** A writable root's copy-on-write layer: the files this session changed in its root. */
  rootUpper?: string;
  /** The shell a bash tool call runs in: /bin/bash, or /bin/sh in an image without bash. */
  shell = '/bin/bash';
  /** The directory bound at the workspace path (a host workspace's idmapped view, or Corral's own). */
  workspace = '';
  /** The host directory behind /workspace, when the policy or the caller named one. */
  hostWorkspace?: string;
  /** The size cap of the Corral-made workspace (in memory or on disk), when it has one. */
  private workspaceCap?: number;
  /** The directory holding the session's mounted disk workspace (handed back to the pool at teardown). */
  private diskDir?: string;
  /** The size of disk workspace this session asked the runtime's pool for (it refills after the start). */
  diskBytes?: number;
  /** The workspace shows the image's files at workspace_path (image-workspace.ts). */
  private seeded = false;
  /** Set when a host workspace is used without an idmapped mount (see idmappedWorkspace). */
  private sharedId?: number;
  private workspaceWasFull = false;
  private rootLayerWasFull = false;
  private scratchWasFull?: string;

  constructor(private rt: FilesRuntime, private opts: SessionOptions, readonly wsPath: string, private leaseIndex: number) {}

  /** This sandbox's own host uid and gid (seen inside as 65534): see sandbox/sandbox-ids.ts. */
  get hostId(): number { return this.sharedId ?? hostIdOf(this.leaseIndex); }

  /** The session directory, with the resolver (the gateway's address) and hosts files bwrap binds. */
  createDir(sessionId: string, gatewayIp: string): SessionDirFiles {
    this.dir = mkdtempSync(join(this.rt.runDir, sessionDirPrefix(sessionId)));
    chmodSync(this.dir, 0o755);
    const resolv = join(this.dir, 'resolv.conf');
    writeFileSync(resolv, `nameserver ${gatewayIp}\noptions timeout:2 attempts:2\n`);
    const hosts = join(this.dir, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost corral\n::1 localhost\n');
    // (shown over the host-wide /proc files a sandbox must not read: bwrap-args.ts HIDDEN_PROC_FILES)
    const empty = join(this.dir, 'empty');
    writeFileSync(empty, '', { mode: 0o444 });
    return { resolv, hosts, empty };
  }

  /**
   * Checks the mounts, sets up the root and the workspace; returns the paths to hide and the mounts
   * (not yet shown: showMounts(), once the workspace has settled the sandbox's host id).
   */
  async prepare(): Promise<{ hide: string[]; mounts: SandboxMount[] }> {
    // Read-only mounts are checked before anything is set up for them (nothing to undo on refusal).
    // Corral's own state is never shown: this runtime's store and run dir, and the default store (another Corral's, or an earlier one's).
    const hide = [...this.opts.policy.filesystem.hide.map(expandHome), this.rt.store.home, this.rt.runDir, DEFAULT_HOME];
    // Checked on real paths: a symlink to ~/.ssh is ~/.ssh (bwrap follows it).
    // (resolved once: every mount, the root and the workspace are checked against them)
    const hidden = hide.map(real);
    const mounts = this.opts.policy.filesystem.mounts.map((m) => {
      const given = resolvePath(expandHome(m.host));
      const first = hostMountProblem(given, hidden);
      if (first) throw new SessionSetupError(`filesystem.mounts ${m.host}: ${first}`);
      if (!existsSync(given)) throw new SessionSetupError(`filesystem.mounts ${m.host}: no such file or directory on this host`);
      const host = real(given);
      const why = hostMountProblem(host, hidden);
      if (why) throw new SessionSetupError(`filesystem.mounts ${m.host}${host !== given ? ` (${host})` : ''}: ${why}`);
      return { host, path: m.path };
    });
    await this.prepareRoot(hidden);
    await this.prepareWorkspace(hidden);
    return { hide, mounts };
  }

  private async prepareRoot(hidden: string[]): Promise<void> {
    const rootGiven = this.opts.root ?? this.opts.policy.filesystem.root ?? undefined;
    if (rootGiven !== undefined) {
      const given = resolvePath(expandHome(rootGiven));
      const host = real(given);
      const why = hostRootProblem(host, hidden);
      if (why) throw new SessionSetupError(`filesystem.root ${rootGiven}${host !== given ? ` (${host})` : ''}: ${why}`);
      assertReachable(`${host}/etc`, this.hostId, 'filesystem.root');
      this.image = host;
      this.imageHost = host;
      this.refuseWorkspacePathIn(host);
      // (an image without bash, e.g. Alpine: commands run in its sh)
      // (looked up through the image's own links: `bin -> /usr/bin` must not be answered by the host's /usr/bin)
      if (!['/usr/bin/bash', '/bin/bash'].some((b) => pathKindInRoot(host, b) === 'file')) this.shell = '/bin/sh';
      if (this.opts.rootWritable ?? this.opts.policy.filesystem.root_writable) this.image = await this.writableRoot(host, rootGiven);
    } else if (this.opts.rootWritable ?? this.opts.policy.filesystem.root_writable) {
      // (said by the policy, not the caller: a policy error naming its file, line and field)
      if (this.opts.rootWritable === undefined) throw policyFieldError(this.opts.policy, ['filesystem', 'root_writable'], 'only an image root can be writable, the host\'s own root never is, and this session has none: set filesystem.root, or give the session a root (API root, corral run --root)');
      throw new SessionSetupError('filesystem.root_writable: only an image root (filesystem.root) can be writable; the host\'s own root never is');
    } else {
      this.refuseWorkspacePathIn('/');
    }
  }

  private async prepareWorkspace(hidden: string[]): Promise<void> {
    const ws = this.opts.workspace ?? this.opts.policy.filesystem.workspace ?? undefined;
    const res = this.opts.policy.resources;
    const cap = res.workspace_size, disk = effectiveWorkspaceDisk(res);
    const capField = cap !== undefined ? 'workspace_size' : disk && !disk.implicit ? 'workspace_disk' : undefined;
    if (ws && capField) {
      // a host directory cannot be capped without hiding what is in it: refuse rather than ignore the cap
      // (named at the cap's line in its file: the host workspace may come from the run, not the policy)
      throw policyFieldError(this.opts.policy, ['resources', capField], `enforced only on a workspace Corral creates, and this session has a host workspace (${ws}${this.opts.workspace ? ', given by the run' : ', filesystem.workspace'}): drop one of the two`);
    }
    // (a loaded policy with both is a policy error at its line already, workspace-caps.ts; this is for a Policy built in code)
    if (cap !== undefined && typeof res.workspace_disk === 'number') {
      throw new SessionSetupError(`policy ${this.opts.policy.name} sets both resources.workspace_size (in memory) and resources.workspace_disk (on disk); a workspace has one cap: keep one`);
    }
    if (ws) {
      // Checked on the real path too (a link to /etc is /etc), as mounts and roots are, and never a
      // place holding a hidden path: the workspace is writable. The real path is what gets mounted.
      const given = resolvePath(ws);
      const host = realPathBelow(given);
      const why = hostMountProblem(given, hidden) ?? hostMountProblem(host, hidden);
      if (why) throw new SessionSetupError(`workspace ${ws}${host !== given ? ` (${host})` : ''}: ${why}`);
      // Only the workspace's own directory is made, never the ones above it: Corral runs as root, and
      // a mistyped path (`/srv/projcts/a/ws`) made every missing directory of it, anywhere on the host.
      const missing = missingParent(host);
      if (missing) throw new SessionSetupError(`workspace ${ws}: its parent directory ${dirname(given)} does not exist${host !== given ? ` (${missing})` : ''}; Corral creates only the workspace itself, never the directories above it (check the path for a typo, or create them first)`);
      if (existsSync(host) && !statSync(host).isDirectory()) throw new SessionSetupError(`workspace ${ws}${host !== given ? ` (${host})` : ''}: is not a directory`);
      mkdirSync(host, { recursive: true });
      this.hostWorkspace = host;
      this.workspace = await this.idmappedWorkspace(host);
      return;
    }
    if (disk) {
      this.workspace = await this.diskWorkspace(disk);
      if (this.workspace !== '') this.workspaceCap = disk.bytes;
    }
    if (!this.workspaceCap) {
      this.workspace = join(this.dir, 'workspace');
      mkdirSync(this.workspace);
      if (cap !== undefined) {
        await mountSizedWorkspace(this.workspace, cap, this.hostId, this.hostId);
        this.workspaceCap = cap;
      }
    }
    chownSync(this.workspace, this.hostId, this.hostId);
    if (this.imageHost) await this.seedFromImage(this.imageHost);
  }

  /** The mounts as the agent should see them (after the workspace: a workspace without an idmapped mount changes the sandbox's host id). */
  async showMounts(mounts: SandboxMount[]): Promise<void> {
    for (const [i, m] of mounts.entries()) m.host = await this.readableView(m.host, `mount-${i}`);
  }

  /**
   * A host workspace is shown to the agent through an idmapped mount (native/corral-idmap.c): its
   * owner's files appear as the sandbox uid's and what the agent creates lands as the owner's, with
   * no host file chowned. Where the kernel or filesystem cannot idmap, the old way: the directory
   * itself is chowned to the sandbox uid (its files keep their owners) and a warning says so;
   * CORRAL_NO_IDMAP=1 asks for that way.
   */
  private async idmappedWorkspace(ws: string): Promise<string> {
    const helper = idmapHelper();
    const view = join(this.dir, 'workspace');
    mkdirSync(view);
    const st = statSync(ws);
    if (helper) {
      try {
        await execFile([helper, ws, view, String(st.uid), String(st.gid), String(this.hostId), String(this.hostId)]);
        return view;
      } catch (e) {
        this.rt.onError(`workspace ${ws}: no idmapped mount (${(e as Error).message}); the directory is given to uid ${SANDBOX_UID} instead, its files keep their owners`);
      }
    }
    // Without the idmapped view the files the agent creates keep its host uid: the shared 65534, so
    // that the next session on this workspace (another lease, another host id) can still change them.
    this.sharedId = SANDBOX_UID;
    assertReachable(ws, this.hostId);
    chownSync(ws, this.hostId, this.hostId);
    return ws;
  }

  /**
   * The image as this session's own writable root: an idmapped view of the image (its root-owned
   * files the agent's, as a container's root would have them; the image itself never changes),
   * under an overlay whose upper layer in the session dir takes every write and goes with the
   * session. Refused (never silently read-only) where the kernel cannot.
   */
  private async writableRoot(host: string, given: string): Promise<string> {
    const helper = idmapHelper();
    if (!helper) throw new SessionSetupError(`filesystem.root ${given}: a writable root needs idmapped mounts (native/corral-idmap), which are ${process.env.CORRAL_NO_IDMAP === '1' ? 'turned off (CORRAL_NO_IDMAP=1)' : 'not built here'}`);
    // The layers live in root-layer/, root's alone (0700): the sandbox's host uid owns much of
    // them (the idmapped image, what the agent wrote), and no host process of that uid may reach
    // them beside the overlay. Only the merged view (root) is bound into the sandbox. Every mount
    // is nosuid,nodev; the image's view is read-only (the overlay never writes to its lower layer).
    const layer = join(this.dir, 'root-layer');
    mkdirSync(layer, { mode: 0o700 });
    chmodSync(layer, 0o700);
    // What the agent writes lands in a tmpfs of resources.root_size (default: half the memory limit),
    // never on the host's disk: `dd if=/dev/zero of=/usr/big` gets ENOSPC in the sandbox, and its
    // pages are charged to the writer's memory cgroup, so the session's memory limit bounds it too.
    // (A default of the whole memory limit could never fill: the limit, which the processes share,
    // was reached first, and the OOM killer stopped the call instead of the write getting ENOSPC.)
    const rw = join(layer, 'rw');
    const [lower, upper, work] = [join(layer, 'lower'), join(rw, 'upper'), join(rw, 'work')];
    const merged = join(this.dir, 'root');
    for (const d of [lower, rw, merged]) mkdirSync(d);
    const res = this.opts.policy.resources;
    const size = Math.max(1 << 20, Math.ceil((res.root_size ?? res.memory / 2) / 4096) * 4096);
    // (inodes capped too, one per 8 KiB of the layer: a flood of empty files gets ENOSPC, not an OOM kill)
    const inodes = Math.max(4096, Math.floor(size / 8192));
    try {
      await mountSizedTmpfs(rw, size, { name: 'corral-root-layer', mode: '0700', inodes });
      for (const d of [upper, work]) mkdirSync(d, { mode: 0o755 });
      chmodSync(upper, 0o755);
      await execFile([helper, host, lower, '0', '0', String(this.hostId), String(this.hostId), 'ro']);
      // (only Corral's own session paths are in the option string: the image's path never is)
      await execFile(['mount', '-t', 'overlay', 'corral-root', '-o', `nosuid,nodev,lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    } catch (e) {
      throw new SessionSetupError(`filesystem.root ${given}: the kernel refused a writable layer over it (${(e as Error).message.split('\n')[0]}); use root_writable: false`);
    }
    // (bwrap binds Corral's resolver and hosts over these: they must be files, whatever the image
    // had, made fresh, never written through a link the image holds: fresh-file.ts)
    try {
      for (const f of ['resolv.conf', 'hosts']) writeFreshFile(merged, `etc/${f}`, '');
    } catch (e) {
      throw new SessionSetupError(`filesystem.root ${given}: ${(e as Error).message}`);
    }
    this.rootUpper = upper;
    return merged;
  }

  /**
   * workspace_path judged where bwrap will bind it: in the root the sandbox is made from, through
   * that root's own links (image-path.ts), before anything is set up for the root.
   */
  private refuseWorkspacePathIn(root: string): void {
    const why = workspacePathInRootProblem(root, this.wsPath);
    if (why) throw new SessionSetupError(`filesystem.workspace_path ${this.wsPath}: ${why}`);
  }

  /**
   * A read-only mount's source as the agent should see it: a directory through an idmapped view
   * (its owner's files readable as the sandbox uid's, like a host workspace; bwrap binds it
   * read-only), a file or an unmappable directory as it is (readable only as its permissions allow).
   */
  private async readableView(host: string, name: string): Promise<string> {
    const helper = idmapHelper();
    const st = statSync(host);
    if (!helper || !st.isDirectory()) return host;
    const view = join(this.dir, name);
    mkdirSync(view);
    try {
      await execFile([helper, host, view, String(st.uid), String(st.gid), String(this.hostId), String(this.hostId)]);
      return view;
    } catch (e) {
      this.rt.onError(`filesystem.mounts ${host}: no idmapped mount (${(e as Error).message}); shown with its own permissions (what only its owner may read stays unreadable to the agent)`);
      return host;
    }
  }

  /**
   * The Corral-made workspace on its own disk-backed filesystem: a ready one from the runtime's pool
   * (a rename), else made now (~55 ms). A cap the policy names is never dropped: failing to make it
   * fails the session. The default cap (the policy names none) on a host without loop devices or
   * mkfs.ext4 is skipped with a warning (once per runtime: `corral doctor` says what is missing),
   * and '' is returned: the caller makes a plain directory.
   */
  private async diskWorkspace(disk: { bytes: number; implicit: boolean }): Promise<string> {
    this.diskBytes = disk.bytes;
    // (pooled or made here, it lies in disk/: the teardown hands that directory back to the pool)
    const diskDir = join(this.dir, 'disk');
    const pooled = this.rt.diskPool.take(disk.bytes, diskDir);
    if (pooled) { this.diskDir = diskDir; return pooled; }
    const poolFailed = this.rt.diskPool.failed;
    if (disk.implicit && poolFailed) return this.uncappedWorkspace(disk.bytes, poolFailed);
    const dir = join(diskDir, 'workspace');
    mkdirSync(dir, { recursive: true });
    try {
      await mountDiskWorkspace(join(diskDir, 'workspace.img'), dir, disk.bytes);
      this.rt.diskPool.recovered();
      this.diskDir = diskDir;
      return dir;
    } catch (e) {
      const why = (e as Error).message.split('\n')[0] ?? '';
      if (!disk.implicit) {
        // a cap the policy asks for is never silently dropped (no loop devices, no mkfs.ext4)
        throw new SessionSetupError(`resources.workspace_disk: cannot make a ${disk.bytes}-byte disk-backed workspace (${why}); corral doctor checks loop devices and mkfs.ext4`);
      }
      // (nothing is mounted: mkfs or the mount itself failed)
      rmSync(diskDir, { recursive: true, force: true });
      return this.uncappedWorkspace(disk.bytes, why);
    }
  }

  /**
   * workspace_path names a directory the image fills (`/testbed`): the Corral-made workspace shows
   * it, as an overlay whose writes land in the capped workspace (image-workspace.ts), instead of
   * hiding it. Where the kernel cannot (no idmapped overlay), the workspace stays empty over it and
   * the runtime says so once.
   */
  private async seedFromImage(image: string): Promise<void> {
    const source = imageWorkspaceSource(image, this.wsPath);
    if (!source) return;
    const helper = idmapHelper();
    const merged = join(this.dir, 'workspace-view');
    try {
      if (!helper) throw new Error(process.env.CORRAL_NO_IDMAP === '1' ? 'idmapped mounts are turned off (CORRAL_NO_IDMAP=1)' : 'native/corral-idmap is not built');
      await mountImageWorkspace({ helper, source, layerDir: join(this.dir, 'workspace-layer'), fsDir: this.workspace, merged, hostId: this.hostId });
      this.workspace = merged;
      this.seeded = true;
    } catch (e) {
      this.rt.warnOnce('image-workspace', `workspace_path ${this.wsPath}: the image's files there are hidden by the empty workspace (an idmapped overlay of them was refused: ${(e as Error).message}); give a copy of them as the workspace, or use root_writable without workspace_path`);
    }
  }

  /** The default disk cap could not be made: said once per runtime, and '' (a plain directory) returned. */
  private uncappedWorkspace(bytes: number, why: string): '' {
    this.rt.warnOnce('workspace-disk', `workspaces are not capped on disk (the default ${bytes}-byte cap needs loop devices and mkfs.ext4: ${why}); corral doctor says what is missing, resources.workspace_disk: unlimited silences this`);
    return '';
  }

  /** What session.start records about the workspace: whose it is, its cap, and whether the image's files show in it. */
  workspaceFacts(): Record<string, unknown> {
    if (this.hostWorkspace) return { kind: 'host', path: this.wsPath };
    const disk = effectiveWorkspaceDisk(this.opts.policy.resources);
    const cap = this.workspaceCap === undefined ? 'none' : this.opts.policy.resources.workspace_size !== undefined ? 'memory' : 'disk';
    return { kind: 'corral', path: this.wsPath, cap, ...(this.workspaceCap !== undefined ? { cap_bytes: this.workspaceCap } : {}), ...(disk && cap === 'none' ? { uncapped_because: 'no loop devices or mkfs.ext4 here' } : {}), ...(this.seeded ? { from_image: true } : {}) };
  }

  /**
   * The runtime's template mount namespace for the holder's start, and what this sandbox needs of the
   * run dir cloned into it from the host's (mount-template.ts): the template has nothing below the run
   * dir, so its own dir (workspace, views, a writable root's layers) comes back; every other path it
   * binds the template shows as the host does. Nothing when the runtime has no template.
   */
  launchMounts(mounts: { host: string }[]): { mountTemplate?: string; keepMounts?: string[] } {
    const template = this.rt.mountTemplate?.path();
    if (template === undefined) return {};
    const runDir = real(this.rt.runDir);
    const paths = [this.dir, this.workspace, ...(this.image ? [this.image] : []), ...mounts.map((m) => m.host)].map(real);
    return { mountTemplate: template, keepMounts: keepRoots(paths.filter((p) => atOrUnder(p, runDir))) };
  }

  /**
   * The read-only trees corral-enter shows as this sandbox's own overlays (host-views.ts): the host
   * root's /usr, /etc, /opt, /var, or a read-only image root, and the datasets, so none of their
   * sockets or fifos is the one host processes and other sandboxes use.
   */
  views(mounts: { host: string }[]): { views?: string[]; viewKeep?: string[]; viewEmpty?: string } {
    const keep = real(this.rt.runDir);
    const readOnlyImage = this.image !== undefined && this.rootUpper === undefined ? this.image : undefined;
    const views = sandboxViews(!this.image, mounts.map((m) => m.host), keep, readOnlyImage);
    return views.length && this.rt.viewEmpty ? { views, viewKeep: [keep], viewEmpty: this.rt.viewEmpty } : {};
  }

  /**
   * What filled up since the last look: a size-capped workspace, a writable root's layer (room or
   * inodes), the sandbox's /tmp or /dev/shm (statfs through the holder's root, /proc/PID/root, which
   * only reads the filesystem's counters). Each is reported once until it has room again.
   */
  filledSince(nsInitPid: number): Fullness {
    const full = this.workspaceCap !== undefined && filledSize(this.workspace) !== undefined ? this.workspaceCap : undefined;
    const layer = this.rootUpper ? filledSize(dirname(this.rootUpper), { inodes: true }) : undefined;
    let scratch: { path: string; bytes: number } | undefined;
    for (const path of ['/tmp', '/dev/shm']) {
      const bytes = filledSize(`/proc/${nsInitPid}/root${path}`);
      if (bytes !== undefined) { scratch = { path, bytes }; break; }
    }
    const found: Fullness = {
      ...(full !== undefined && !this.workspaceWasFull ? { workspaceFilled: full } : {}),
      ...(layer !== undefined && !this.rootLayerWasFull ? { rootLayerFilled: layer } : {}),
      ...(scratch !== undefined && this.scratchWasFull !== scratch.path ? { scratchFilled: scratch } : {}),
    };
    this.workspaceWasFull = full !== undefined;
    this.rootLayerWasFull = layer !== undefined;
    this.scratchWasFull = scratch?.path;
    return found;
  }

  /** Where a file the agent names can be read safely by Corral: under the workspace, or in a writable root's layer. */
  readableAt(path: string): { root: string; rel: string } | undefined {
    if (path.startsWith(`${this.wsPath}/`)) return { root: this.workspace, rel: path.slice(this.wsPath.length + 1) };
    if (this.rootUpper && this.image) return { root: this.image, rel: path.slice(1) };
    return undefined;
  }

  /** Removes the session directory (its disk workspace detached by the pool in the background). */
  removeDir(): unknown {
    if (this.diskDir) this.rt.diskPool.retire(this.diskDir);
    return this.dir && removeSessionDir(this.dir, (why) => this.rt.onError(`session dir ${this.dir} kept: ${why}`));
  }
}
