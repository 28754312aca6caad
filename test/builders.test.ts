// Unit tests for the pure builders behind the sandbox: seccomp program, nft ruleset,
// bwrap argv, corral-enter argv, and replay input parsing. The sandbox tests prove the
// same pieces against the real kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSeccompFilter, encodeSeccompFilter, AIO_SYSCALLS, DENIED_SYSCALLS, FIRST_UNKNOWN_SYSCALL, MODE_SYSCALLS } from '../src/sandbox/seccomp-filter.js';
import { buildGatewayRuleset, conntrackTotal, gatewayTableName, gatewayTableOwner } from '../src/sandbox/nft-ruleset.js';
import { buildBwrapArgs } from '../src/sandbox/bwrap-args.js';
import { parseReplayInput } from '../src/trace/replay-input.js';
import { leaseFor, leaseIdOfHostIf } from '../src/sandbox/address-leases.js';

/** A tiny classic-BPF interpreter, enough to evaluate Corral's seccomp program. */
function runFilter(nr: number, args: number[] = [], arch = 0xc000003e): number {
  const f = buildSeccompFilter();
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((a, i) => data.writeUInt32LE(a >>> 0, 16 + 8 * i));
  let A = 0;
  for (let pc = 0; pc < f.length;) {
    const i = f[pc]!;
    switch (i.code) {
      case 0x20: A = data.readUInt32LE(i.k); pc++; break;
      case 0x54: A = (A & i.k) >>> 0; pc++; break;
      case 0x15: pc += 1 + (A === i.k ? i.jt : i.jf); break;
      case 0x35: pc += 1 + (A >= i.k ? i.jt : i.jf); break;
      case 0x45: pc += 1 + ((A & i.k) !== 0 ? i.jt : i.jf); break;
      case 0x06: return i.k;
      default: throw new Error(`unknown op ${i.code}`);
    }
  }
  throw new Error('fell off the program');
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;

test('seccomp: denied syscalls get EPERM, ordinary ones are allowed', () => {
  for (const [name, nr] of Object.entries(DENIED_SYSCALLS)) assert.equal(runFilter(nr), EPERM, name);
  for (const nr of [0, 1, 2, 59, 257, 42 /* connect */, 462 /* mseal */, 469 /* file_setattr */]) assert.equal(runFilter(nr), ALLOW, `nr ${nr}`);
  // Linux AIO (one host-wide pool): ENOSYS, so libaio falls back to threads
  for (const [name, nr] of Object.entries(AIO_SYSCALLS)) assert.equal(runFilter(nr), 0x00050000 | 38, name);
  // netlink: route, sock_diag, generic … allowed; the kernel's device events refused
  assert.equal(runFilter(41, [16, 3, 0]), ALLOW);
  assert.equal(runFilter(41, [16, 3, 4]), ALLOW);
  assert.equal(runFilter(41, [16, 2, 15]), EPERM);
  // syscalls newer than the filter: ENOSYS, as an older kernel answers
  for (const nr of [FIRST_UNKNOWN_SYSCALL, FIRST_UNKNOWN_SYSCALL + 1, 1000, 0x3fffffff]) assert.equal(runFilter(nr), 0x00050000 | 38, `nr ${nr}`);
});

test('seccomp: clone with namespace flags is refused, plain fork-style clone allowed, clone3 ENOSYS', () => {
  assert.equal(runFilter(56, [0x01200011]), ALLOW); // CLONE_CHILD_SETTID|CLEARTID|SIGCHLD
  assert.equal(runFilter(56, [0x10000000]), EPERM); // CLONE_NEWUSER
  assert.equal(runFilter(56, [0x40000000 | 0x11]), EPERM); // CLONE_NEWNET
  assert.equal(runFilter(435), 0x00050000 | 38);
});

test('seccomp: raw and packet sockets refused; TCP, UDP (v4, v6), unix and netlink allowed', () => {
  assert.equal(runFilter(41, [2, 3]), EPERM); // AF_INET SOCK_RAW
  assert.equal(runFilter(41, [10, 3 | 0x80000]), EPERM); // AF_INET6 SOCK_RAW|SOCK_CLOEXEC
  assert.equal(runFilter(41, [17, 2]), EPERM); // AF_PACKET
  assert.equal(runFilter(41, [2, 10]), EPERM); // AF_INET SOCK_PACKET (the kernel makes it a packet socket)
  assert.equal(runFilter(41, [10, 10 | 0x800]), EPERM); // AF_INET6 SOCK_PACKET|SOCK_NONBLOCK
  for (const type of [4 /* RDM */, 5 /* SEQPACKET */, 6 /* DCCP */, 0, 15]) assert.equal(runFilter(41, [2, type]), EPERM, `type ${type}`);
  assert.equal(runFilter(41, [2, 2 | 0x80000 | 0x800]), ALLOW); // UDP|SOCK_CLOEXEC|SOCK_NONBLOCK
  assert.equal(runFilter(41, [2, 1]), ALLOW);
  assert.equal(runFilter(41, [2, 2]), ALLOW);
  assert.equal(runFilter(41, [1, 1]), ALLOW);
  assert.equal(runFilter(41, [16, 3]), ALLOW); // netlink raw (ip addr) is fine
  assert.equal(runFilter(41, [10, 1]), ALLOW);
});

test('seccomp: every other socket family is refused as unsupported — vsock (the hypervisor, past netns and gateway), bluetooth, can, rds, tipc, alg, xdp', () => {
  for (const fam of [40 /* vsock */, 31 /* bluetooth */, 29 /* can */, 21 /* rds */, 30 /* tipc */, 38 /* alg */, 44 /* xdp */, 15 /* key */, 4 /* ipx */, 0, 45, 0xffff]) {
    assert.equal(runFilter(41, [fam, 1]), 0x00050000 | 97, `family ${fam}`);
  }
});

test('seccomp: setuid and setgid mode bits are refused in every call that sets a mode (chmod, fchmod, fchmodat, fchmodat2, open, openat, creat, mknod, mknodat); openat2 ENOSYS; other modes pass', () => {
  for (const [name, { nr, modeArg }] of Object.entries(MODE_SYSCALLS)) {
    const args = (mode: number): number[] => { const a = [3, 0, 0, 0]; a[modeArg] = mode; if (name.startsWith('open')) a[modeArg - 1] = 0o101; return a; };
    for (const mode of [0o4755, 0o2755, 0o6711, 0o104755, 0o4000]) assert.equal(runFilter(nr, args(mode)), EPERM, `${name} ${mode.toString(8)}`);
    for (const mode of [0o755, 0o644, 0o1777, 0o100644, 0]) assert.equal(runFilter(nr, args(mode)), ALLOW, `${name} ${mode.toString(8)}`);
  }
  // the mode is read from the right argument: a setuid-looking value elsewhere does not refuse the call
  assert.equal(runFilter(MODE_SYSCALLS.openat!.nr, [0o4000, 0o4000, 0o4000 | 0o101, 0o644]), ALLOW);
  assert.equal(runFilter(MODE_SYSCALLS.fchmodat!.nr, [0o4000, 0o4000, 0o755, 0o4000]), ALLOW);
  assert.equal(runFilter(437), 0x00050000 | 38, 'openat2 (its mode is in a struct the filter cannot read)');
});

test('seccomp: foreign architectures are killed, x32 refused, TIOCSTI refused', () => {
  assert.equal(runFilter(1, [], 0x40000003), 0x80000000);
  assert.equal(runFilter(0x40000000 + 1), 0x80000000);
  assert.equal(runFilter(16, [0, 0x5412]), EPERM);
  assert.equal(runFilter(16, [0, 0x5401]), ALLOW);
  assert.equal(encodeSeccompFilter(buildSeccompFilter()).length % 8, 0);
});

test('nft ruleset: one table per runtime; its sandboxes\' veths redirected to the gateway, the rest logged and rejected', () => {
  const r = buildGatewayRuleset({ table: 'corral_gw_1_ab', tcpPort: 4000, dnsPort: 5353, ctTotal: 65536 });
  assert.match(r, /set ifs \{ type ifname; \}/);
  assert.match(r, /iifname @ifs meta nfproto ipv4 meta l4proto tcp redirect to :4000/);
  assert.match(r, /iifname @ifs meta nfproto ipv4 udp dport 53 redirect to :5353/);
  assert.ok(!/crl/.test(r), 'no sandbox is named in the rules: sandboxes are set elements');
  // every drop is logged at a bounded rate per sandbox (a meter keyed by the veth), then rejected by the next rule
  const log = 'update @droplog \\{ iifname limit rate 50\\/second burst 100 packets \\} log prefix "corral-drop " level info';
  assert.match(r, new RegExp(`chain sandbox_forward[\\s\\S]*iifname @ifs ${log}\\n\\s*iifname @ifs reject`));
  assert.match(r, new RegExp(`meta nfproto ipv6 ${log}\\n\\s*meta nfproto ipv6 reject`));
  assert.match(r, new RegExp(`meta l4proto tcp ${log}\\n\\s*meta l4proto tcp reject with tcp reset`));
  assert.ok(!/log prefix[^\n]*reject/.test(r), 'no log rule carries the verdict (the limit would skip the reject)');
  // the input chain's only accepts: other interfaces (this chain only), and the redirected TCP and DNS
  const input = /chain sandbox_input \{([\s\S]*?)\n  \}/.exec(r)![1]!;
  assert.deepEqual(input.split('\n').filter((l) => / accept$/.test(l) && !/policy accept/.test(l)).map((l) => l.trim()),
    ['iifname != @ifs accept', 'meta nfproto ipv4 tcp dport 4000 ct status dnat accept', 'meta nfproto ipv4 udp dport 5353 ct status dnat accept']);
  // a sandbox's new flows are counted (conntrack entries it holds, keyed by its veth) before anything is accepted;
  // past the cap a flow is logged and refused
  // (all sandboxes together first, then this one)
  assert.match(input, /ct state new ct count over 65536 jump sandbox_ct_full\n\s*ct state new add @ctcount \{ iifname ct count over 8192 \} jump sandbox_ct_full\n\s*meta nfproto ipv4 tcp dport 4000 ct status dnat accept/);
  assert.throws(() => buildGatewayRuleset({ table: 't', tcpPort: 1, dnsPort: 2, ctTotal: 0 }), /ctTotal must be a whole number/);
  // the default runtime-wide cap: a quarter of the host's table, within bounds
  assert.equal(conntrackTotal(262144), 65536);
  assert.equal(conntrackTotal(undefined), 16384);
  assert.equal(conntrackTotal(1000), 8192);
  assert.equal(conntrackTotal(1e9), 1 << 20);
  assert.match(r, new RegExp(`chain sandbox_ct_full \\{\\n\\s*meta l4proto tcp ${log}\\n\\s*meta l4proto tcp reject with tcp reset\\n\\s*${log}\\n\\s*reject with icmpx admin-prohibited`));
  assert.equal(gatewayTableName('123-0a9f'), 'corral_gw_123_0a9f');
  assert.equal(gatewayTableOwner('corral_gw_123_0a9f'), 123);
  assert.equal(gatewayTableOwner('corral_0001'), undefined);
  assert.equal(gatewayTableOwner('corral_gw_x_1'), undefined);
  assert.equal(leaseIdOfHostIf('crl03ffh'), '03ff');
  assert.equal(leaseIdOfHostIf('eth0'), undefined);
});

test('leases: addresses are distinct /30s and names fit IFNAMSIZ', () => {
  const cfg = { dir: '/nonexistent', base: '10.231.0.0', size: 16384 };
  const a = leaseFor(0, cfg);
  const b = leaseFor(16383, cfg);
  assert.equal(a.hostIp, '10.231.0.1');
  assert.equal(a.sandboxIp, '10.231.0.2');
  assert.equal(b.sandboxIp, '10.231.255.254');
  assert.ok(b.hostIf.length <= 15);
});

test('bwrap args: read-only allowlisted root dirs, symlinks mirrored, secrets hidden, workspace bound', () => {
  const root = mkdtempSync(join(tmpdir(), 'corral-root-'));
  for (const d of ['usr', 'etc', 'root', 'home', 'var']) mkdirSync(join(root, d));
  mkdirSync(join(root, 'usr', 'bin'));
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('/root/secret', join(root, 'evil'));
  writeFileSync(join(root, 'etc', 'shadow'), 'x');
  const a = buildBwrapArgs({ workspace: '/w', resolvConf: '/r', hostsFile: '/h', hide: [join(root, 'etc', 'shadow'), '/root/.ssh'], rootDir: root }, ['/bin/cat']);
  const s = a.join(' ');
  assert.match(s, new RegExp(`--ro-bind ${root}/usr /usr`));
  assert.match(s, /--symlink usr\/bin \/bin/);
  assert.ok(!s.includes('/evil'), 'links into hidden places are not mirrored');
  assert.ok(!s.includes(`${root}/root`) && !s.includes(`${root}/home`), '/root and /home are absent');
  assert.ok(a.includes('--unshare-user') && a.includes('--unshare-pid') && a.includes('--unshare-ipc') && a.includes('--unshare-uts'));
  assert.match(s, /--bind \/w \/workspace/);
  assert.deepEqual(a.slice(-2), ['--', '/bin/cat']);
  const m = buildBwrapArgs({ workspace: '/w', resolvConf: '/r', hostsFile: '/h', hide: [], rootDir: root, mounts: [{ host: '/srv/data', path: '/data' }] }, ['/bin/cat']).join(' ');
  assert.match(m, /--ro-bind \/srv\/data \/data --bind \/w \/workspace/, 'read-only mounts, before the workspace');
});

test('bwrap args: an image\'s top-level regular files are bound (read-only, or read-write in its writable copy), never a fifo; an image whose etc is a link is refused', () => {
  const img = mkdtempSync(join(tmpdir(), 'corral-img-'));
  for (const d of ['usr/bin', 'etc']) mkdirSync(join(img, d), { recursive: true });
  symlinkSync('usr/bin', join(img, 'bin'));
  writeFileSync(join(img, 'run_tests.sh'), 'echo ok\n');
  writeFileSync(join(img, '.dockerenv'), '');
  writeFileSync(join(img, 'tmp'), '');
  execFileSync('mkfifo', [join(img, 'pipe')]);
  const spec = { workspace: '/w', resolvConf: '/r', hostsFile: '/h', hide: [], image: img };
  const ro = buildBwrapArgs(spec, ['/bin/cat']).join(' ');
  assert.match(ro, new RegExp(`--ro-bind ${img}/\\.dockerenv /\\.dockerenv`));
  assert.match(ro, new RegExp(`--ro-bind ${img}/run_tests\\.sh /run_tests\\.sh`));
  assert.ok(!ro.includes('/pipe') && !ro.includes(`${img}/tmp`), 'no fifo; Corral\'s own /tmp');
  assert.match(buildBwrapArgs({ ...spec, imageWritable: true }, ['/bin/cat']).join(' '), new RegExp(`--bind ${img}/run_tests\\.sh /run_tests\\.sh`));
  rmSync(join(img, 'etc'), { recursive: true });
  symlinkSync('/etc', join(img, 'etc'));
  assert.throws(() => buildBwrapArgs(spec, ['/bin/cat']), /its etc is a symbolic link/);
  rmSync(img, { recursive: true, force: true });
});

test('replay input: a malformed editor call is a bad line with file, line and what is wrong; a well-formed unreplayable one stays skipped', () => {
  const tu = (id: string, name: string, input: unknown) => ({ type: 'tool_use', id, name, input });
  const chat = JSON.stringify({ episode: 'mal', messages: [{ role: 'assistant', content: [
    tu('w0', 'Write', { content: 'echo hi\n' }),
    tu('w1', 'Write', { file_path: 'run.sh', content: 42 }),
    tu('e1', 'Edit', { file_path: 'run.sh', old_string: 7, new_string: 'x' }),
    tu('m1', 'MultiEdit', { file_path: 'run.sh', edits: [{ old_string: 'a', new_string: ['b'] }] }),
    tu('c1', 'str_replace_based_edit_tool', { command: 'create', path: 'a.sh' }),
    tu('i1', 'str_replace_based_edit_tool', { command: 'insert', path: 'a.sh', insert_line: -1, new_str: 'x' }),
    tu('ok', 'Write', { file_path: 'run.sh', content: 'echo ok\n' }),
    // well-formed: undo_edit and a browser are skipped, as before; replace_all and MultiEdit are replayed (file operations)
    tu('u1', 'str_replace_based_edit_tool', { command: 'undo_edit', path: 'a.sh' }),
    tu('a1', 'Edit', { file_path: 'run.sh', old_string: 'o', new_string: '0', replace_all: true }),
    tu('m2', 'MultiEdit', { file_path: 'run.sh', edits: [{ old_string: 'a', new_string: 'b' }] }),
    tu('b1', 'browser', { url: 'http://x.test' }),
  ] }] });
  const canon = [
    '{"episode":"mal","step":20,"tool":"Write","input":{"file_path":"x.sh","content":{"a":1}}}',
    '{"episode":"mal","step":21,"tool":"Edit","input":{"file_path":"x.sh","old_string":"a","new_string":"b"}}',
  ].join('\n');
  const r = parseReplayInput(`${chat}\n${canon}\n`, 'mal.jsonl');
  assert.deepEqual(r.problems.map((p) => `${p.file}:${p.line}: ${p.error}`), [
    'mal.jsonl:1: tool call w0: malformed Write call: no "file_path" (a string)',
    'mal.jsonl:1: tool call w1: malformed Write call: "content" must be a string, got a number',
    'mal.jsonl:1: tool call e1: malformed Edit call: "old_string" must be a string, got a number',
    'mal.jsonl:1: tool call m1: malformed MultiEdit call: edits[0]: "new_string" must be a string, got a list',
    'mal.jsonl:1: tool call c1: malformed str_replace_based_edit_tool create call: no "file_text" (a string)',
    'mal.jsonl:1: tool call i1: malformed str_replace_based_edit_tool insert call: "insert_line" must be a line number (0 or more), got -1',
    'mal.jsonl:2: malformed Write call: "content" must be a string, got an object',
  ]);
  assert.deepEqual(r.episodes[0]!.calls.map((c) => [c.tool_call_id ?? c.step, c.file?.op]), [['ok', 'write'], ['a1', 'str_replace'], ['m2', 'multi_edit'], [21, 'str_replace']], 'the well-formed calls still run');
  assert.equal(r.skipped, 2);
  assert.deepEqual(r.skippedTools, { 'str_replace_based_edit_tool undo_edit': 1, browser: 1 });
});

test('replay input: canonical lines, OpenAI and Anthropic messages, and bad lines reported with file:line', () => {
  const text = [
    '{"episode":"e1","step":2,"command":"echo b"}',
    '{"episode":"e1","step":1,"command":"echo a","tool_call_id":"t1"}',
    '{"episode":"e2","step":1,"tool":"python","command":"print(1)"}',
    '{"episode":"e3","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"bash","arguments":"{\\"command\\":\\"ls\\"}"}},{"id":"c2","function":{"name":"python","arguments":{"code":"print(2)"}}}]}]}',
    '{"episode":"e4","step":"x","command":"ls"}',
    '{"truncated": ',
    '[1,2]',
  ].join('\n');
  const r = parseReplayInput(text, 'in.jsonl');
  assert.equal(r.episodes.length, 3);
  assert.deepEqual(r.episodes[0]!.calls.map((c) => c.command), ['echo a', 'echo b']);
  assert.equal(r.episodes[1]!.calls[0]!.tool, 'python');
  const e3 = r.episodes[2]!;
  assert.deepEqual(e3.calls.map((c) => [c.step, c.tool_call_id, c.tool, c.command]), [[1, 'c1', 'bash', 'ls'], [2, 'c2', 'python', 'print(2)']]);
  assert.deepEqual(r.problems.map((p) => p.line), [5, 6, 7]);
  assert.match(r.problems[0]!.error, /step/);
  // Anthropic Messages: tool_use blocks of assistant messages (text blocks and tool_result messages ignored).
  const claude = parseReplayInput(JSON.stringify({ episode: 'c1', messages: [
    { role: 'user', content: 'fix it' },
    { role: 'assistant', content: [{ type: 'text', text: 'ok' }, { type: 'tool_use', id: 'toolu_1', name: 'bash', input: { command: 'make test' } }, { type: 'tool_use', id: 'toolu_2', name: 'python', input: { code: 'print(3)' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_3', name: 'editor', input: { path: 'a.py' } }] },
  ] }), 'claude.jsonl');
  assert.deepEqual(claude.episodes[0]!.calls.map((c) => [c.step, c.tool_call_id, c.tool, c.command]), [[1, 'toolu_1', 'bash', 'make test'], [2, 'toolu_2', 'python', 'print(3)']]);
  assert.deepEqual(claude.problems, [], 'an editor call is not a bad line');
  assert.equal(claude.skipped, 1, '… it is counted as not replayed');
  // Anthropic's text editor tool takes a `command` (view, create, str_replace) that must never run as bash.
  const editor = parseReplayInput(JSON.stringify({ episode: 'ed', messages: [
    { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'str_replace_based_edit_tool', input: { command: 'view', path: '/etc/hosts' } },
      { type: 'tool_use', id: 't2', name: 'bash', input: { command: 'ls' } }, { type: 'tool_use', id: 't3', name: 'tool', input: { command: 'create', path: 'a.py', file_text: 'x' } }] },
    { role: 'assistant', tool_calls: [{ id: 'k1', type: 'function', function: { name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', 'make -j2 test'] }) } }] },
  ] }), 'ed.jsonl');
  assert.deepEqual(editor.episodes[0]!.calls.map((c) => [c.tool_call_id, c.command, c.file?.op ?? null]), [['t1', 'read /etc/hosts', 'read'], ['t2', 'ls', null], ['t3', 'write a.py', 'write'], ['k1', 'make -j2 test', null]], 'editor calls are file operations, never bash; a Codex-style argv array is its script');
  assert.deepEqual(editor.episodes[0]!.calls[2]!.file, { op: 'write', path: 'a.py', content: 'x' });
  assert.equal(editor.skipped, 0);
  // Claude Code's Write/Edit (also replace_all)/MultiEdit/Read, the editor's str_replace and insert; undo_edit cannot be replayed (skipped)
  const cc = parseReplayInput(JSON.stringify({ episode: 'cc', messages: [
    { role: 'assistant', content: [
      { type: 'tool_use', id: 'w', name: 'Write', input: { file_path: '/workspace/m.sh', content: 'echo hi\n' } },
      { type: 'tool_use', id: 'e', name: 'Edit', input: { file_path: '/workspace/m.sh', old_string: 'hi', new_string: 'yo' } },
      { type: 'tool_use', id: 'all', name: 'Edit', input: { file_path: '/workspace/m.sh', old_string: 'o', new_string: '0', replace_all: true } },
      { type: 'tool_use', id: 'me', name: 'MultiEdit', input: { file_path: '/workspace/m.sh', edits: [{ old_string: 'y0', new_string: 'yo' }, { old_string: 'o', new_string: 'O', replace_all: true }] } },
      { type: 'tool_use', id: 'r', name: 'Read', input: { file_path: '/workspace/m.sh' } },
      { type: 'tool_use', id: 's', name: 'str_replace_editor', input: { command: 'str_replace', path: 'm.sh', old_str: 'yo', new_str: 'ok' } },
      { type: 'tool_use', id: 'i', name: 'str_replace_editor', input: { command: 'insert', path: 'm.sh', insert_line: 0, new_str: '#!/bin/sh' } },
      { type: 'tool_use', id: 'u', name: 'str_replace_editor', input: { command: 'undo_edit', path: 'm.sh' } },
    ] },
  ] }), 'cc.jsonl');
  assert.deepEqual(cc.episodes[0]!.calls.map((c) => [c.step, c.tool_call_id, c.file]), [
    [1, 'w', { op: 'write', path: '/workspace/m.sh', content: 'echo hi\n' }],
    [2, 'e', { op: 'str_replace', path: '/workspace/m.sh', old: 'hi', new: 'yo' }],
    [3, 'all', { op: 'str_replace', path: '/workspace/m.sh', old: 'o', new: '0', replaceAll: true }],
    [4, 'me', { op: 'multi_edit', path: '/workspace/m.sh', edits: [{ old: 'y0', new: 'yo' }, { old: 'o', new: 'O', replaceAll: true }] }],
    [5, 'r', { op: 'read', path: '/workspace/m.sh' }],
    [6, 's', { op: 'str_replace', path: 'm.sh', old: 'yo', new: 'ok' }],
    [7, 'i', { op: 'insert', path: 'm.sh', line: 0, text: '#!/bin/sh' }],
  ]);
  assert.equal(cc.skipped, 1);
  assert.deepEqual(cc.skippedTools, { 'str_replace_editor undo_edit': 1 });
  // a canonical line of a file tool carries its arguments as "input"; one without a path is a bad line that says why
  const canon = parseReplayInput([
    '{"episode":"k","step":1,"tool":"str_replace_based_edit_tool","input":{"command":"create","path":"run.sh","file_text":"./xmrig"}}',
    '{"episode":"k","step":2,"command":"sh run.sh"}',
    '{"episode":"k","step":3,"tool":"browser","input":{"url":"http://x.test"}}',
  ].join('\n'), 'canon.jsonl');
  assert.deepEqual(canon.episodes[0]!.calls.map((c) => [c.step, c.command, c.file?.op ?? null]), [[1, 'write run.sh', 'write'], [2, 'sh run.sh', null]]);
  assert.equal(canon.problems.length, 1);
  assert.match(canon.problems[0]!.error, /tool "browser": not a file tool this replay knows/);
  // a canonical line of a shell or code tool with its arguments as "input", as chat lines carry them: text, an argv, code
  const shell = parseReplayInput([
    '{"episode":"sh","step":1,"tool":"bash","input":{"command":"ls -la"}}',
    '{"episode":"sh","step":2,"tool":"shell","input":{"command":["echo","a; touch pwned"]}}',
    '{"episode":"sh","step":3,"tool":"python","input":{"code":"print(1)"}}',
    '{"episode":"sh","step":4,"tool":"bash","input":{"timeout":5}}',
  ].join('\n'), 'shell.jsonl');
  assert.deepEqual(shell.episodes[0]!.calls.map((c) => [c.step, c.tool, c.command]), [[1, 'bash', 'ls -la'], [2, 'bash', "echo 'a; touch pwned'"], [3, 'python', 'print(1)']]);
  assert.deepEqual(shell.problems.map((p) => p.line), [4], 'no command in the input: a bad line');
  // One episode over two files (and a canonical line plus a chat line of one episode) adds up, in order.
  const into = new Map();
  parseReplayInput('{"episode":"S","step":1,"command":"echo s1 > s1.txt"}\n', 'a.jsonl', into);
  parseReplayInput(`{"episode":"S","step":2,"command":"cat s1.txt"}\n${JSON.stringify({ episode: 'S', messages: [{ role: 'assistant', tool_calls: [{ id: 'x', type: 'function', function: { name: 'bash', arguments: '{"command":"echo chat"}' } }] }] })}\n`, 'b.jsonl', into);
  const merged = [...into.values()];
  assert.equal(merged.length, 1);
  assert.deepEqual(merged[0]!.calls.map((c: { step: number; command: string }) => [c.step, c.command]), [[1, 'echo s1 > s1.txt'], [2, 'cat s1.txt'], [3, 'echo chat']]);
});
