// Why: proves the lab harness really is a wall (the guard refuses unsafe namespaces) and that far
// hosts really count what reaches them, including a real sshd, and leave nothing behind.
// Run inside the lab: node dist/src/lab/lab-exec.js -- node --test dist/test/lab.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { assertInLab, inLab, labProblems, OUTER_NETNS_ENV } from '../src/lab/lab-guard.js';
import { FarHosts, withLab, type FarHostSpec } from '../src/lab/far-hosts.js';
import { netnsOf, pidAlive, pidsInNetns } from '../src/lab/netns-procs.js';

const SSH = '203.0.113.10';
const POOL = '203.0.113.20';
const INTERNAL = '10.0.0.5';
const META = '169.254.169.254';
const SINK = '198.51.100.7';
const SPECS: FarHostSpec[] = [
  { name: 'ssh.test', ip: SSH, services: [{ kind: 'ssh', port: 22 }] },
  { name: 'pool.minexmr.test', ip: POOL, services: [{ kind: 'stratum', port: 3333 }, { kind: 'stratum', port: 443 }] },
  { name: 'registry.internal.test', ip: INTERNAL, services: [{ kind: 'http', port: 80 }] },
  { name: 'metadata.test', ip: META, services: [{ kind: 'metadata', port: 80 }] },
  { name: 'sink.test', ip: SINK, services: [{ kind: 'sink', port: 9 }] },
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// Everything below creates interfaces and traffic: never do it outside the lab.
assertInLab();

function tcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 3000 });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    s.once('timeout', () => { s.destroy(); reject(new Error(`timeout ${host}:${port}`)); });
  });
}

/** Sends JSON-RPC lines and collects replies until `want` lines have arrived. */
async function rpc(s: Socket, msgs: object[], want: number): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  const done = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`only ${lines.length}/${want} replies: ${buf}`)), 3000);
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
      if (lines.length >= want) { clearTimeout(t); resolve(); }
    });
  });
  for (const m of msgs) s.write(`${JSON.stringify(m)}\n`);
  await done;
  return lines;
}

function http(method: string, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port: 80, method, path, headers, agent: false, timeout: 3000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('http timeout')));
    req.end();
  });
}

/** Asserts the count reaches exactly `n` and stays there (no double counting). */
async function expectExactly(far: FarHosts, host: string, port: number, n: number): Promise<void> {
  assert.equal(await far.waitForAccepted(host, port, n), n, `${host}:${port} should reach ${n}`);
  await sleep(150);
  assert.equal(await far.accepted(host, port), n, `${host}:${port} should stay at ${n}`);
}

test('guard: passes inside the lab, refuses without CORRAL_LAB or in the outer netns', () => {
  assert.equal(inLab(), true, labProblems().join('; '));
  assert.doesNotThrow(() => assertInLab());
  const noFlag = { ...process.env };
  delete noFlag['CORRAL_LAB'];
  assert.throws(() => assertInLab({ env: noFlag }), /CORRAL_LAB=1 is not set.*lab-exec/);
  const self = netnsOf('self');
  assert.ok(self);
  assert.throws(() => assertInLab({ env: { ...process.env, [OUTER_NETNS_ENV]: self } }), /outer network namespace/);
});

test('guard: refuses a foreign interface and a default route', () => {
  const r = randomBytes(3).toString('hex');
  const foreign = `xt${r}a`;
  ip('link', 'add', foreign, 'type', 'veth', 'peer', 'name', `xt${r}b`);
  try {
    assert.equal(inLab(), false);
    assert.match(labProblems().join('; '), new RegExp(`interface ${foreign}.*not created by the lab`));
  } finally {
    ip('link', 'del', foreign);
  }
  assert.equal(inLab(), true, labProblems().join('; '));

  const own = `lab-t${r}a`;
  ip('link', 'add', own, 'type', 'veth', 'peer', 'name', `lab-t${r}b`);
  try {
    ip('link', 'set', own, 'up');
    ip('link', 'set', `lab-t${r}b`, 'up');
    assert.equal(inLab(), true, 'lab-named veths alone are fine');
    ip('route', 'add', 'default', 'dev', own);
    assert.equal(inLab(), false);
    assert.match(labProblems().join('; '), /IPv4 default route/);
  } finally {
    ip('link', 'del', own);
  }
  assert.equal(inLab(), true, labProblems().join('; '));
});

test('far hosts count every accepted connection exactly, and the fake services answer', async () => {
  let pids: number[] = [];
  let ns: string | undefined;
  let labIf = '';
  const far = await FarHosts.start(SPECS);
  try {
    pids = far.pids();
    ns = netnsOf(far.pids()[0] ?? -1);
    labIf = far.labIf;
    assert.equal(pids.length, 2, 'far-server and sshd');
    assert.deepEqual(far.ips, {
      'ssh.test': SSH, 'pool.minexmr.test': POOL, 'registry.internal.test': INTERNAL, 'metadata.test': META, 'sink.test': SINK,
    });
    assert.equal(await far.totalAccepted(), 0);

    // The far netns can only route back into the lab: its only non-lo link is our veth.
    const farLinks = JSON.parse(execFileSync('nsenter', [`--net=${far.netnsPath}`, '--', 'ip', '-j', 'link'], { encoding: 'utf8' })) as Array<{ ifname: string }>;
    assert.deepEqual(farLinks.map((l) => l.ifname).sort(), ['lo', `${labIf.slice(0, -1)}b`].sort());

    // Stratum (BTC style) on 3333.
    const s1 = await tcp(POOL, 3333);
    const [sub] = await rpc(s1, [{ id: 1, method: 'mining.subscribe', params: ['lab-miner/1.0'] }], 1);
    assert.equal(sub?.['id'], 1);
    assert.ok(Array.isArray(sub?.['result']), 'subscribe returns a result array');
    const auth = await rpc(s1, [{ id: 2, method: 'mining.authorize', params: ['wallet.worker', 'x'] }], 3);
    assert.deepEqual(auth[0], { id: 2, result: true, error: null });
    assert.ok(auth.some((m) => m['method'] === 'mining.notify'), 'pool pushes a job');
    s1.destroy();
    await expectExactly(far, POOL, 3333, 1);

    // Stratum (XMR style) on 443.
    const s2 = await tcp(POOL, 443);
    const [login] = await rpc(s2, [{ id: 1, jsonrpc: '2.0', method: 'login', params: { login: 'wallet', pass: 'x', agent: 'lab' } }], 1);
    const job = (login?.['result'] as { job?: Record<string, unknown> } | undefined)?.job;
    assert.equal(typeof job?.['blob'], 'string');
    assert.equal(typeof job?.['job_id'], 'string');
    assert.equal(typeof job?.['target'], 'string');
    const [submit] = await rpc(s2, [{ id: 2, jsonrpc: '2.0', method: 'submit', params: { id: 'lab-session-1', job_id: job?.['job_id'], nonce: '00000000', result: '00' } }], 1);
    assert.deepEqual(submit?.['result'], { status: 'OK' });
    s2.destroy();
    await expectExactly(far, POOL, 443, 1);
    assert.equal((await far.counts())[`${POOL}:443`]?.requests, 2);

    // Internal registry.
    const pkg = await http('GET', INTERNAL, '/pkg.tar.gz');
    assert.equal(pkg.status, 200);
    assert.match(gunzipSync(pkg.body).toString('utf8'), /corral-lab fake package/);
    const big = await http('GET', INTERNAL, '/big?bytes=300000');
    assert.equal(big.body.length, 300000);
    await expectExactly(far, INTERNAL, 80, 2);

    // Metadata (IMDSv2 flow: token, then credentials).
    const token = await http('PUT', META, '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' });
    assert.equal(token.status, 200);
    const role = await http('GET', META, '/latest/meta-data/iam/security-credentials/', { 'x-aws-ec2-metadata-token': token.body.toString() });
    const creds = await http('GET', META, `/latest/meta-data/iam/security-credentials/${role.body.toString().trim()}`);
    assert.match(creds.body.toString(), /"AccessKeyId":"ASIACORRALLABFAKE/);
    await expectExactly(far, META, 80, 3);

    // Sink reads what it gets.
    const s3 = await tcp(SINK, 9);
    await new Promise<void>((r) => s3.end(Buffer.alloc(5000, 1), () => r()));
    await expectExactly(far, SINK, 9, 1);
    for (let i = 0; i < 40 && (await far.counts())[`${SINK}:9`]?.bytesIn !== 5000; i++) await sleep(25);
    assert.equal((await far.counts())[`${SINK}:9`]?.bytesIn, 5000);

    // A port nobody serves is refused and counts nothing.
    const before = await far.totalAccepted();
    await assert.rejects(tcp(POOL, 80), /ECONNREFUSED/);
    await sleep(100);
    assert.equal(await far.totalAccepted(), before);

    // Real sshd: a raw TCP connect gets its banner and counts; a real ssh client fails auth but counts.
    const raw = await tcp(SSH, 22);
    const banner = await new Promise<string>((r) => raw.once('data', (d: Buffer) => r(d.toString())));
    assert.match(banner, /^SSH-2\.0-OpenSSH/);
    raw.destroy();
    await expectExactly(far, SSH, 22, 1);
    const sshRc = await new Promise<number | null>((resolve) => {
      const p = spawn('ssh', ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'ConnectTimeout=3', '-F', '/dev/null', `nobody@${SSH}`, 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      p.on('exit', (code) => { assert.match(err, /Permission denied/); resolve(code); });
    });
    assert.equal(sshRc, 255, 'ssh fails authentication');
    await expectExactly(far, SSH, 22, 2);

    assert.equal(await far.totalAccepted(), 1 + 1 + 2 + 3 + 1 + 2);
  } finally {
    await far.stop();
  }
  await far.stop(); // idempotent

  // Nothing left: processes, netns members, veth, named netns.
  for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} is gone`);
  assert.ok(ns);
  assert.deepEqual(pidsInNetns(ns), []);
  assert.doesNotMatch(ip('-o', 'link'), new RegExp(labIf.slice(0, -1)));
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /lab-far/);
  assert.equal(ip('-j', 'route', 'show', SSH + '/32').trim(), '[]');
  assert.equal(inLab(), true);
});

test('withLab always stops, even when the body throws, and bad specs leave nothing', async () => {
  let seen: FarHosts | undefined;
  await assert.rejects(withLab([{ name: 'x.test', ip: '198.51.100.9', services: [{ kind: 'sink', port: 7 }] }], async (far) => {
    seen = far;
    (await tcp('198.51.100.9', 7)).destroy();
    await expectExactly(far, '198.51.100.9', 7, 1);
    throw new Error('boom');
  }), /boom/);
  assert.ok(seen);
  for (const pid of seen.pids()) assert.equal(pidAlive(pid), false);
  assert.doesNotMatch(ip('-o', 'link'), new RegExp(seen.labIf.slice(0, -1)));

  // A failure half-way through start (the second lab route clashes with the first) cleans up.
  await withLab([{ name: 'a.test', ip: '198.51.100.10', services: [{ kind: 'sink', port: 7 }] }], async () => {
    const linksBefore = ip('-o', 'link');
    const tmpBefore = readdirSync(tmpdir()).filter((f) => f.startsWith('corral-lab-')).length;
    await assert.rejects(FarHosts.start([
      { name: 'b.test', ip: '198.51.100.10', services: [{ kind: 'ssh', port: 22 }] },
    ]), /route add 198\.51\.100\.10\/32/);
    assert.equal(ip('-o', 'link'), linksBefore);
    assert.equal(readdirSync(tmpdir()).filter((f) => f.startsWith('corral-lab-')).length, tmpBefore);
  });
  assert.deepEqual(await validateRejects(), true);
});

async function validateRejects(): Promise<boolean> {
  await assert.rejects(FarHosts.start([
    { name: 'a.test', ip: '198.51.100.10', services: [{ kind: 'sink', port: 7 }] },
    { name: 'b.test', ip: '198.51.100.10', services: [{ kind: 'sink', port: 7 }] },
  ]), /duplicate far service/);
  return true;
}

test('a packet forwarded from a sandbox-like netns (10.231/16 source) reaches a far host and is counted', async () => {
  // Stand-in for a Corral sandbox that Corral failed to fence: its own netns, veth'd to the lab.
  await withLab([{ name: 'pool.test', ip: POOL, services: [{ kind: 'stratum', port: 3333 }] }], async (far) => {
    const r = randomBytes(3).toString('hex');
    const [hostIf, sbIf] = [`crl${r}h`, `crl${r}s`];
    const holder = spawn('unshare', ['--net', '--', 'sleep', '30'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && netnsOf(holder.pid ?? -1) === netnsOf('self'); i++) await sleep(20); // wait for unshare
      const ns = `/proc/${holder.pid}/ns/net`;
      const inSb = (...args: string[]): string => execFileSync('nsenter', [`--net=${ns}`, '--', ...args], { encoding: 'utf8' });
      ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', sbIf);
      ip('link', 'set', sbIf, 'netns', String(holder.pid));
      ip('addr', 'add', '10.231.77.1/30', 'dev', hostIf);
      ip('link', 'set', hostIf, 'up');
      inSb('ip', 'addr', 'add', '10.231.77.2/30', 'dev', sbIf);
      inSb('ip', 'link', 'set', sbIf, 'up');
      inSb('ip', 'route', 'add', `${POOL}/32`, 'via', '10.231.77.1');
      const script = `const s=require('net').connect(3333,'${POOL}',()=>{s.end();});s.on('error',()=>process.exit(3));s.setTimeout(3000,()=>process.exit(4));`;
      inSb(process.execPath, '-e', script);
      await expectExactly(far, POOL, 3333, 1);
    } finally {
      if (holder.pid !== undefined) process.kill(holder.pid, 'SIGKILL');
      try { ip('link', 'del', hostIf); } catch { /* gone with the netns */ }
    }
  });
});
