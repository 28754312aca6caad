// Why: end to end inside the lab, behaviours a Falco parity review found Corral's runtime rules
// missing (the command screen had twins for some, but a script it never read bypassed them): a
// credential hunt over the filesystem, an encoded payload decoded and run, and a process disguised
// as a kernel thread or a daemon. Each runs from a script with the screen skipped and must reach
// the session as an alert of the right rule and category, attributed to the call. Nothing opens a
// connection (the lab fixture still refuses to run outside the lab, SAFETY.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, oneUnscreenedCall, rulesOf, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import type { AlertEvent } from '../src/events/event.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }] }], 'labfp'); });
after(async () => { await fx?.close(); });

const oneCall = (command: string) => oneUnscreenedCall(fx, command, 'falco-parity');
const show = (alerts: AlertEvent[]): string => JSON.stringify(alerts.map((a) => `${a.payload.rule} ${a.payload.category}: ${a.payload.message}`));

test('a script hunting for keys and cloud secrets over / and /etc: credential_search_exec', async () => {
  const { r, alerts } = await oneCall(`cat > hunt.sh <<'EOF'
find / -xdev -name id_rsa -o -name '*.pem' 2>/dev/null | head -3
grep -rl aws_secret_access_key /etc 2>/dev/null | head -3
echo hunted
EOF
bash hunt.sh`);
  assert.match(r.stdout, /hunted/);
  const cred = alerts.filter((a) => a.payload.category === 'metadata_access');
  assert.ok(cred.some((a) => rulesOf(a).includes('credential_search_exec')), show(alerts));
  assert.ok(cred.every((a) => a.tool_call === 'call-1'));
});

test('a script decoding a base64 payload into a shell: decoded_payload_exec', async () => {
  const payload = Buffer.from('echo decoded-payload-ran\n').toString('base64');
  const { r, alerts } = await oneCall(`printf '%s\\n' 'echo ${payload} | base64 -d | sh' > run.sh && bash run.sh`);
  assert.match(r.stdout + r.stderr, /decoded-payload-ran|killed|cancel/i);
  const ev = alerts.filter((a) => a.payload.category === 'defense_evasion');
  assert.ok(ev.some((a) => rulesOf(a).includes('decoded_payload_exec')), show(alerts));
  assert.ok(ev.every((a) => a.tool_call === 'call-1'));
});

test('a program renamed kworker, and one started with a kernel-thread argv[0]: process_masquerade_exec', async () => {
  const named = await oneCall('cp /bin/sleep ./kworker && ./kworker 0.1 && echo ran');
  assert.match(named.r.stdout, /ran/);
  assert.ok(named.alerts.some((a) => rulesOf(a).includes('process_masquerade_exec')), show(named.alerts));
  const argv0 = await oneCall(`bash -c "exec -a '[kworker/0:1]' sleep 0.1"; echo ran`);
  assert.match(argv0.r.stdout, /ran/);
  const m = argv0.alerts.filter((a) => rulesOf(a).includes('process_masquerade_exec'));
  assert.equal(m.length, 1, show(argv0.alerts));
  assert.equal(m[0]!.payload.category, 'defense_evasion');
  assert.equal(m[0]!.tool_call, 'call-1');
});

test('fileless execution however the fd is spelled (/proc/thread-self/fd/N, //proc/self/fd/N, /dev/./fd/N, a symlink): memfd_exec, from the kernel\'s own answer', async () => {
  // Each child execs /bin/true's bytes from a memfd by another path. The rule matched the path string
  // alone before, and each of these spellings passed unseen (session 32 review).
  const py = `import os, sys
fd = os.memfd_create("payload")
os.write(fd, open("/bin/true", "rb").read())
os.symlink("/proc/self/fd/%d" % fd, "/workspace/innocent")
for path in ["/proc/thread-self/fd/%d" % fd, "//proc/self/fd/%d" % fd, "/dev/./fd/%d" % fd, "/workspace/innocent"]:
    pid = os.fork()
    if pid == 0:
        os.execv(path, ["x"])
    os.waitpid(pid, 0)
print("ran")`;
  const { r, alerts, s } = await oneCall(`cat > f.py <<'EOF'\n${py}\nEOF\npython3 f.py`);
  assert.match(r.stdout, /ran/, r.stderr);
  const execs = s.events.filter((e) => e.kind === 'exec' && e.payload.exe_unlinked === true);
  assert.deepEqual(execs.map((e) => e.payload.filename).sort(), ['/dev/./fd/3', '//proc/self/fd/3', '/proc/thread-self/fd/3', '/workspace/innocent'].sort(), JSON.stringify(s.events.filter((e) => e.kind === 'exec').map((e) => e.payload.filename)));
  const hits = alerts.filter((a) => rulesOf(a).includes('memfd_exec'));
  assert.ok(hits.length >= 1 && hits.every((a) => a.tool_call === 'call-1' && a.payload.category === 'ingress_transfer'), show(alerts));
  const regular = s.events.filter((e) => e.kind === 'exec' && e.payload.filename === '/usr/bin/python3');
  assert.ok(regular.length >= 1 && regular.every((e) => e.payload.exe_unlinked === undefined), 'a program on disk is not unlinked');
});

test('a daemon name run from the workspace through /usr/../: process_masquerade_exec (the path is resolved before the system-directory test)', async () => {
  const { r, alerts } = await oneCall('cp /bin/sleep ./sshd && /usr/../workspace/sshd 0.1 && echo ran');
  assert.match(r.stdout, /ran/, r.stderr);
  const m = alerts.filter((a) => rulesOf(a).includes('process_masquerade_exec'));
  assert.equal(m.length, 1, show(alerts));
  assert.equal(m[0]!.tool_call, 'call-1');
});

test('a workspace shown under /opt (workspace_path) does not make the agent\'s own files system programs: a daemon name and miner arguments run from it still alert', async () => {
  // system_executable trusts /opt (the host's, read-only); a workspace placed there was trusted with it.
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'falco-opt-ws', workspacePath: '/opt/wheels' });
  try {
    const r = await s.exec({ command: 'cp /bin/sleep ./sshd && cp /bin/true ./grep && /opt/wheels/sshd 0.1 && /opt/wheels/grep -o stratum+tcp://pool.test:3333 --donate-level=1 && echo ran', tool: 'bash', step: 1, toolCallId: 'call-1', timeoutMs: 30_000, skipScreen: true, syncSensor: true });
    await s.close();
    assert.match(r.stdout, /ran/, r.stderr);
    const alerts = s.alertEvents;
    assert.ok(alerts.some((a) => rulesOf(a).includes('process_masquerade_exec') && a.tool_call === 'call-1'), show(alerts));
    assert.ok(alerts.some((a) => rulesOf(a).includes('miner_args_exec')), show(alerts));
    const ex = s.events.find((e) => e.kind === 'exec' && e.payload.filename === '/opt/wheels/sshd');
    assert.equal(ex?.payload.exe_writable, true);
    assert.equal(s.events.find((e) => e.kind === 'exec' && e.payload.filename === '/bin/true')?.payload.exe_writable, undefined);
  } finally { await s.close(); }
});
