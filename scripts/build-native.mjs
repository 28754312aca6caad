// Why: builds Corral's small native pieces with the machine's gcc and Node's own headers (no
// downloads): the corral-enter launcher, the SO_ORIGINAL_DST/splice addon, the daemon's stdio borrower and the JSON Lines
// scanner of `corral investigate`. A target is rebuilt when its source is newer or when the gcc
// command that builds it changed (recorded next to it in `<target>.cmd`) or the binary was
// written after that record, so a binary built by hand with other flags is never mistaken for
// the real one.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'native');
mkdirSync(out, { recursive: true });
const nodeInclude = join(dirname(dirname(process.execPath)), 'include', 'node');
const src = (name) => join(root, 'native', name);

const targets = [
  // native/mount-template.c: the mount namespace a sandbox's bwrap starts from; host-views.c: its read-only
  // trees as overlays (both part of the same binary).
  { out: join(out, 'corral-enter'), src: src('corral-enter.c'), extra: [src('mount-template.c'), src('mount-template.h'), src('host-views.c'), src('host-views.h'), src('mountinfo.h'), src('mount-api.h')], args: ['-O2', '-Wall', '-Werror'] },
  // pid 1 of every sandbox: holds its namespaces, not dumpable, reaps orphans. Static: it runs inside
  // the sandbox's root, which may be an image without the host's C library (filesystem.root).
  { out: join(out, 'corral-holder'), src: src('corral-holder.c'), args: ['-O2', '-Wall', '-Werror', '-static'] },
  // The session file tools' program (write, read, str_replace, insert), run inside the sandbox as the
  // agent. Static for the same reason: an image may have no C library, perl or shell. file-replace.c:
  // a write or an edit replaces the file atomically (a temporary file renamed over it).
  { out: join(out, 'corral-file'), src: src('corral-file.c'), extra: [src('file-replace.c'), src('file-replace.h')], args: ['-O2', '-Wall', '-Werror', '-static'] },
  // Who wrote a session's files: fanotify on its workspace filesystem, the writer's cgroup (session/file-writers.ts).
  { out: join(out, 'corral-fwatch'), src: src('corral-fwatch.c'), args: ['-O2', '-Wall', '-Werror'] },
  // A host workspace's owner shown as the sandbox uid, without chowning host files.
  // Preloaded into the sensor's bpftrace: tracefs's event list answered from memory (its start: 2 s -> 1.2 s).
  { out: join(out, 'tracefs-events-shim.so'), src: src('tracefs-events-shim.c'), args: ['-O2', '-Wall', '-Werror', '-shared', '-fPIC'], libs: ['-ldl'] },
  { out: join(out, 'corral-idmap'), src: src('corral-idmap.c'), extra: [src('mount-api.h')], args: ['-O2', '-Wall', '-Werror'] },
  {
    // (native/mining-markers.c: the upload scanner's search for pool-message markers; sync-markers.c: the sensor
    //  barrier's per-CPU markers — both in the same addon)
    out: join(out, 'original-dst.node'), src: src('original-dst.c'), extra: [src('mining-markers.c'), src('mining-markers.h'), src('sync-markers.c'), src('sync-markers.h'), src('napi-util.h')],
    args: ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-pthread', '-DNODE_GYP_MODULE_NAME=original_dst', `-I${nodeInclude}`],
  },
  {
    // Each tool call's launcher started by posix_spawn, not by a fork of the runtime's (large) process.
    // Optional: without it, Node's spawn (session/tool-spawn.ts).
    out: join(out, 'fast-spawn.node'), src: src('fast-spawn.c'), extra: [src('napi-util.h')], optional: true, without: 'tool calls will start through Node\'s spawn (a fork of the runtime process)',
    args: ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-pthread', '-DNODE_GYP_MODULE_NAME=fast_spawn', `-I${nodeInclude}`],
  },
  {
    // `corral serve` borrows a client's stdio with it (SO_PEERPIDFD + pidfd_getfd).
    out: join(out, 'peer-fds.node'), src: src('peer-fds.c'), extra: [src('napi-util.h')],
    args: ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=peer_fds', `-I${nodeInclude}`],
  },
  {
    // Optional: without it `corral investigate` parses every line with JSON.parse (same answers,
    // slower; `corral doctor` says so). SSE2 is used where the compiler targets it (x86-64).
    // native/trace-link.c (the trace pass's native linker), name-ids.c, flow-digest.c (the log
    // pass's plain flows) and sorted-merge.c (the windows' merge on a pool thread) are part of the same addon.
    out: join(out, 'json-lines.node'), src: src('json-lines.c'), extra: [src('trace-link.c'), src('name-ids.c'), src('flow-digest.c'), src('json-skip.c'), src('sorted-merge.c'), src('napi-util.h'), src('intern.h')], optional: true, without: 'corral investigate will use JSON.parse', libs: ['-lm'],
    args: ['-O3', '-Wall', '-Werror', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=json_lines', `-I${nodeInclude}`],
  },
];

for (const t of targets) {
  const sources = [t.src, ...(t.extra ?? []).filter((f) => f.endsWith('.c'))];
  const argv = [...t.args, '-o', t.out, ...sources, ...(t.libs ?? [])];
  const stamp = `${t.out}.cmd`;
  const cmd = JSON.stringify(['gcc', ...argv]);
  // Fresh: built from this source, by this command, and not overwritten since (stamp written after it).
  const fresh = existsSync(t.out) && existsSync(stamp) && [t.src, ...(t.extra ?? [])].every((f) => statSync(t.out).mtimeMs >= statSync(f).mtimeMs)
    && statSync(stamp).mtimeMs >= statSync(t.out).mtimeMs && readFileSync(stamp, 'utf8') === cmd;
  if (fresh) continue;
  try {
    execFileSync('gcc', argv, { stdio: 'inherit' });
    writeFileSync(stamp, cmd);
  } catch (e) {
    if (!t.optional) throw e;
    process.stderr.write(`warning: ${t.out} was not built (${e.message.split('\n')[0]}); ${t.without}\n`);
  }
}
