// Why: proves the detection engine's contract: the condition language parses with the right
// precedence and reports errors at file/rule/line/column, every operator means what docs/rules.md
// says, user files override built-ins without editing them, windows fire once per window with
// evidence and bounded memory, and hostile events never crash the engine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileFilter, DetectionEngine, type EngineEvent, loadRuleSources, RuleError, type RuleSet, toAlertPayload,
} from '../src/detect/engine/api.js';

const fieldsMod = await import('../src/detect/engine/fields.js').catch(() => undefined);

const T0 = 1_700_000_000_000_000_000n;
let seq = 0;
function ev(kind: string, payload: Record<string, unknown>, extra: Partial<EngineEvent> & { atMs?: number } = {}): EngineEvent {
  const { atMs, ...rest } = extra;
  return { id: `e${seq++}`, ts: (T0 + BigInt(Math.round((atMs ?? 0) * 1e6))).toString(), kind: kind as EngineEvent['kind'], session: 's1', episode: 'ep1', tool_call: 'tc1', payload, ...rest };
}
const exec = (argv: unknown[], extra: Record<string, unknown> = {}, o: Partial<EngineEvent> & { atMs?: number } = {}) => ev('exec', { argv, ...extra }, o);

const BASE = `
- list: shells
  items: [bash, sh]
- list: ports
  items: [22, 3333]
- macro: is_exec
  condition: evt.kind = exec
`;
function rs(extra = ''): RuleSet { return loadRuleSources([{ file: 'base.yaml', text: BASE + extra }]); }
function f(cond: string, set = rs()): (e: EngineEvent) => boolean { return compileFilter(set, cond); }

function rule(id: string, cond: string, more = ''): string {
  return `
- rule: ${id}
  desc: test rule
  condition: ${cond}
  severity: high
  category: tunnel
  attack: [T1572]
  output: "hit %proc.name %net.dst.ip"
  reason: test reason
${more}`;
}

function loadError(text: string, file = 'bad.yaml'): RuleError {
  try { loadRuleSources([{ file, text }]); } catch (e) { assert.ok(e instanceof RuleError, `not a RuleError: ${String(e)}`); return e; }
  assert.fail('expected a RuleError');
}

describe('condition parser', () => {
  it('binds not > and > or', () => {
    // a or (b and c): true for an exec whatever the name
    const g = f('evt.kind = exec or evt.kind = dns and proc.name = zzz');
    assert.equal(g(exec(['ls'])), true);
    assert.equal(g(ev('dns', { name: 'a.test' })), false);
    // (not a) and b
    const h = f('not proc.name = ls and evt.kind = exec');
    assert.equal(h(exec(['ls'])), false);
    assert.equal(h(exec(['cat'])), true);
    assert.equal(h(ev('dns', { name: 'x' })), false);
    // parentheses override
    const k = f('(evt.kind = exec or evt.kind = dns) and proc.name = zzz');
    assert.equal(k(exec(['ls'])), false);
    assert.equal(k(exec(['zzz'])), true);
    assert.equal(f('not not proc.name = ls')(exec(['ls'])), true);
  });

  it('reports syntax errors with file, rule, line and column', () => {
    const text = `${BASE}${rule('r1', '(is_exec and proc.name = x')}`;
    const e = loadError(text);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('(is_exec and proc.name = x')) + 1;
    assert.equal(e.file, 'bad.yaml');
    assert.equal(e.rule, 'r1');
    assert.equal(e.line, line);
    assert.equal(e.column, lines[line - 1]!.length + 1); // at end of condition
    assert.match(e.message, /^bad\.yaml:\d+:\d+: r1: expected '\)'/);
  });

  it('names every broken item of a file, not only the first, each at its place (a review, session 40)', () => {
    const item = (name: string, extra: string): string => `- rule: ${name}\n  desc: d\n  condition: evt.kind = exec\n  severity: high\n  category: mining\n  attack: [T1496]\n  output: o\n  reason: r\n${extra}`;
    const e = loadError(`${item('r_a', '  bogus: 1\n')}${item('r_b', '')}${item('r_c', '  also: 2\n')}`);
    assert.equal(e.rule, 'r_a');
    const lines = e.message.split('\n');
    assert.equal(lines.length, 2, e.message);
    assert.match(lines[0]!, /^bad\.yaml:9:3: r_a: unknown key 'bogus'/);
    assert.match(lines[1]!, /^bad\.yaml:26:3: r_c: unknown key 'also'/);
  });

  it('names unknown fields, macros and lists at their column', () => {
    for (const [cond, msg, token] of [
      ['is_exec and proc.nam = x', /unknown field 'proc\.nam'/, 'proc.nam'],
      ['is_exec and is_exce', /unknown macro 'is_exce'/, 'is_exce'],
      ['proc.name in (shels_list)', /unknown list 'shels_list'/, 'shels_list'],
      ['proc.name < 3', /needs a numeric field/, '<'],
      ['net.dst.port = abc', /not a number/, 'abc'],
      ['proc.argv = x', /does not apply to the list field/, '='],
      ['proc.name regex "(unclosed"', /bad regex/, '"(unclosed"'],
      ['proc.name = x y', /unexpected 'y'/, 'y'],
      ['proc.name ! x', /unexpected '!'/, '!'],
    ] as const) {
      const text = `${BASE}${rule('r2', cond)}`;
      const e = loadError(text);
      assert.match(e.message, msg, cond);
      const lines = text.split('\n');
      const line = lines.findIndex((l) => l.includes(`condition: ${cond}`)) + 1;
      assert.equal(e.line, line, cond);
      assert.equal(e.column, lines[line - 1]!.indexOf(token, lines[line - 1]!.indexOf('condition: ') + 11) + 1, cond);
      assert.equal(e.rule, 'r2');
    }
  });

  it('maps positions inside folded multi-line conditions and macros', () => {
    const text = `${BASE}
- rule: r3
  desc: d
  condition: >
    is_exec and
    proc.name = x and bogus.field = 1
  severity: low
  category: tunnel
  attack: [T1572]
  output: o
  reason: r
`;
    const e = loadError(text);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('bogus.field')) + 1;
    assert.equal(e.line, line);
    assert.equal(e.column, lines[line - 1]!.indexOf('bogus.field') + 1);
    const m = loadError(`${BASE}\n- macro: broken\n  condition: evt.kind = exec and and\n`, 'm.yaml');
    assert.equal(m.rule, 'macro broken');
    assert.equal(m.file, 'm.yaml');
    assert.equal(m.column, 'evt.kind = exec and and'.lastIndexOf('and') + 14);
  });

  it('detects macro cycles and validates item keys and enums', () => {
    assert.match(loadError(`- macro: a\n  condition: b\n- macro: b\n  condition: a\n`).message, /macro cycle/);
    assert.match(loadError(`${BASE}${rule('r', 'is_exec').replace('condition:', 'condtion:')}`).message, /unknown key 'condtion'/);
    assert.match(loadError(`${BASE}${rule('r', 'is_exec').replace('severity: high', 'severity: urgent')}`).message, /severity must be/);
    assert.match(loadError(`${BASE}${rule('r', 'is_exec').replace('category: tunnel', 'category: spying')}`).message, /category must be one of/);
    assert.match(loadError(`${BASE}${rule('r', 'is_exec').replace('[T1572]', '[T15]')}`).message, /not an ATT&CK technique id/);
    assert.match(loadError(`- rule: r\n  desc: [unclosed\n`).message, /YAML/);
    const e = loadError(`${BASE}${rule('r', 'is_exec', '  window: { key: run, over: 5s, count: 2 }')}`);
    assert.match(e.message, /window: key must be session, episode or tool_call/);
  });

  it('accepts legacy and v19 ATT&CK ids', () => {
    const set = rs(rule('r', 'is_exec').replace('[T1572]', '[T1562.001, T1685, T1562.004, T1686]'));
    assert.deepEqual(set.rules[0]!.attack, ['T1562.001', 'T1685', 'T1562.004', 'T1686']);
  });
});

describe('operators', () => {
  const e1 = exec(['/usr/bin/Python3', '-c', 'print(1)', '--Flag'], { filename: '/usr/bin/python3', cwd: '/work/proj' });
  it('string comparisons', () => {
    assert.equal(f('proc.name = python3')(e1), true);
    assert.equal(f('proc.name != python3')(e1), false);
    assert.equal(f('proc.name != bash')(e1), true);
    assert.equal(f('proc.exe = "/usr/bin/python3"')(e1), true);
    assert.equal(f('proc.cmdline contains "-c print"')(e1), true);
    assert.equal(f('proc.cmdline contains "PRINT"')(e1), false);
    assert.equal(f('proc.cmdline icontains "PRINT(1)"')(e1), true);
    assert.equal(f('proc.cwd startswith /work')(e1), true);
    assert.equal(f('proc.cwd endswith proj')(e1), true);
    assert.equal(f('proc.cwd endswith work')(e1), false);
    assert.equal(f('proc.exe glob "/usr/*/py*3"')(e1), true);
    assert.equal(f('proc.exe glob "/usr/*/py"')(e1), false);
    assert.equal(f('proc.exe glob "/usr/bin/python[0-9]"')(e1), true);
    assert.equal(f('proc.cmdline regex "print\\\\([0-9]\\\\)"')(e1), true);
    assert.equal(f('proc.cmdline regex "(?i)FLAG"')(e1), true);
    assert.equal(f('proc.cmdline regex "FLAG"')(e1), false);
    assert.equal(f('proc.arg[1] = "-c"')(e1), true);
    assert.equal(f('proc.arg[9] exists')(e1), false);
    assert.equal(f('proc.args = "-c print(1) --Flag"')(e1), true);
  });

  it('list (array) fields: contains is element equality, in is all, intersects is any', () => {
    assert.equal(f('proc.argv contains "-c"')(e1), true);
    assert.equal(f('proc.argv contains "-"')(e1), false); // not substring
    assert.equal(f('proc.argv icontains "--flag"')(e1), true);
    assert.equal(f('proc.argv startswith "--F"')(e1), true);
    assert.equal(f('proc.argv endswith "(1)"')(e1), true);
    assert.equal(f('proc.argv glob "--*"')(e1), true);
    assert.equal(f('proc.argv regex "^print"')(e1), true);
    assert.equal(f('proc.argv intersects (x, "-c")')(e1), true);
    assert.equal(f('proc.argv in (x, "-c")')(e1), false);
    assert.equal(f('proc.argv in ("/usr/bin/Python3", "-c", "print(1)", "--Flag")')(e1), true);
    assert.equal(f('proc.argv exists')(e1), true);
    assert.equal(f('proc.argv exists')(exec([])), false);
  });

  it('numbers, sizes, sets and booleans', () => {
    const fl = ev('flow', { 'network.peer.address': '203.0.113.1', 'network.peer.port': 3333, bytes_up: 60 * 1024 * 1024 });
    assert.equal(f('net.dst.port in (ports)')(fl), true);
    assert.equal(f('net.dst.port in (ports, 80)')(ev('connect', { 'network.peer.port': 80 })), true);
    assert.equal(f('net.dst.port intersects (3333)')(fl), true);
    assert.equal(f('net.dst.port = 3333')(fl), true);
    assert.equal(f('net.dst.port > 3332 and net.dst.port >= 3333 and net.dst.port < 3334 and net.dst.port <= 3333')(fl), true);
    assert.equal(f('net.dst.port > 3333')(fl), false);
    assert.equal(f('net.bytes_up > 50MiB')(fl), true);
    assert.equal(f('net.bytes_up > 1GB')(fl), false);
    assert.equal(f('net.bytes_up > 60MB')(fl), true); // 62.9e6 > 60e6
    assert.equal(f('net.dst.port in ()')(fl), false);
    assert.equal(f('net.dst.ip in (203.0.113.1)')(fl), true);
    assert.equal(f('proc.name in (shells, python3)')(e1), true);
    const c = ev('connect', { source: 'gateway', observed: true, 'network.peer.address': '10.1.2.3' });
    assert.equal(f('net.observed = true')(c), true);
    assert.equal(f('net.observed = false')(c), false);
    assert.equal(f('net.addr_class = private')(c), true); // computed from the IP when absent
    assert.throws(() => f('net.observed = yes'), /boolean/);
  });

  it('a missing value makes every comparison false, including !=', () => {
    const d = ev('dns', { name: 'A.Example.TEST.' });
    assert.equal(f('net.dst.ip = x')(d), false);
    assert.equal(f('net.dst.ip != x')(d), false);
    assert.equal(f('net.dst.port < 1')(d), false);
    assert.equal(f('net.dst.ip exists')(d), false);
    assert.equal(f('not net.dst.ip exists or net.dst.ip != x')(d), true);
    assert.equal(f('dns.name = a.example.test and dns.domain = example.test and dns.label_count = 3')(d), true);
  });

  it('dns label statistics', () => {
    const d = ev('dns', { name: 'mzxw6ytboi3dmnrvgq2tkmbzgzbdeyjq.x.exfil.test' });
    assert.equal(f('dns.label_max_len = 32')(d), true);
    assert.equal(f('dns.entropy > 3.5')(d), true);
    assert.equal(f('dns.entropy > 0.1')(ev('dns', { name: 'aaaaaaaa.test' })), false);
    assert.equal(f('dns.labels contains exfil')(d), true);
    // entropy relative to the label's alphabet: a random hex label is near 1 though it never reaches 4.0 bits
    const val = (field: string, e: EngineEvent): unknown => {
      const { FieldTable } = fieldsMod!;
      const t = new FieldTable();
      return t.newCache().reset(e).g(t.resolve(field)!.slot);
    };
    const hex = ev('dns', { name: '5c5c50f3a2a48eee8674a2269e26d9bc0c38d8b799403c29ec.t.pypi.test' });
    assert.ok((val('dns.entropy', hex) as number) < 4);
    assert.ok((val('dns.entropy_norm', hex) as number) > 0.9, String(val('dns.entropy_norm', hex)));
    assert.ok((val('dns.entropy_norm', ev('dns', { name: 'kubernetes-dashboard-metrics-scraper.svc.test' })) as number) < 0.8);
    assert.equal(val('dns.entropy_norm', ev('dns', { name: 'aaaa.test' })), 0);
    assert.equal(val('dns.entropy_norm', ev('dns', { name: 'xyxy.a.test' })), 1 / 5); // x and y fit base32: 1 bit of 5
    assert.equal(val('dns.entropy_norm', ev('dns', { name: 'abab.a.test' })), 1 / 4); // a and b fit hex: 1 bit of 4
    assert.equal(val('dns.subdomain_len', hex), 52);
    assert.equal(val('dns.subdomain_len', ev('dns', { name: 'pypi.test' })), 0);
    assert.equal(val('dns.subdomain_len', ev('dns', { name: 'Files.PythonHosted.test.' })), 5);
    // the resolver a query was sent to (conntrack's original destination), only on dns events
    assert.equal(val('dns.server', ev('dns', { name: 'a.test', 'network.peer.address': '203.0.113.53' })), '203.0.113.53');
    assert.equal(val('dns.server', ev('dns', { name: 'a.test' })), undefined);
    assert.equal(val('dns.server', ev('connect', { 'network.peer.address': '203.0.113.53' })), undefined);
    // process samples: proc.exe is p.exe, proc.name stays the (agent-chosen) comm
    const sample = ev('resource', { scope: 'process', comm: 'pytest', cpu_pct: 99, exe: '/workspace/pytest', filename: '/usr/bin/x' });
    assert.equal(val('proc.exe', sample), '/workspace/pytest');
    assert.equal(val('proc.name', sample), 'pytest');
    assert.equal(val('proc.exe', ev('resource', { scope: 'process', comm: 'x' })), undefined);
  });

  it('never throws on hostile or malformed events', () => {
    const set = rs(rule('r', 'is_exec and proc.cmdline contains x and proc.name in (shells)'));
    const engine = new DetectionEngine(set);
    const bad = [
      { id: 'b1', ts: 'garbage', kind: 'exec', session: 's', payload: null },
      { id: 'b2', ts: '1', kind: 'exec', session: 's', payload: { argv: [1, { a: 2 }, null, 'bash', 'x'] } },
      { id: 'b3', ts: '1', kind: 'exec', session: 's', payload: { argv: 'bash x' } },
      { id: 'b4', kind: 'dns', payload: { name: 42 } },
      null,
    ] as unknown as EngineEvent[];
    const out = bad.flatMap((b) => engine.process(b));
    // b2: non-strings dropped, argv[0] is 1 -> dropped, so cmdline is "bash x" and name is bash
    assert.deepEqual(out.map((d) => d.evidence[0]), ['b2']);
    assert.equal(engine.stats().ruleErrors, 0);
  });
});

describe('rule sets from several files', () => {
  const builtin = `${BASE}
- list: miner_binaries
  items: [xmrig, t-rex]
- macro: spawned
  condition: evt.kind in (exec, command)
${rule('miner', 'spawned and proc.name in (miner_binaries)', `  exceptions:
    - name: bench
      condition: proc.cmdline contains "--benchmark"`)}
${rule('other', 'is_exec and proc.name = nc')}
`;
  const user = `
- list: miner_binaries
  override: append
  items: [mysupersecretminer]
- rule: miner
  override: { condition: append, exceptions: append }
  condition: and not proc.cwd startswith "/opt/allowed"
  exceptions:
    - name: lab
      condition: evt.session = lab
- rule: other
  enabled: false
`;
  const set = loadRuleSources([{ file: 'builtin.yaml', text: builtin }, { file: 'user.yaml', text: user }]);
  const engine = new DetectionEngine(set);
  const hit = (e: EngineEvent) => engine.process(e).map((d) => d.rule);

  it('appends to lists and rule conditions, appends exceptions, disables rules', () => {
    assert.deepEqual(set.lists.get('miner_binaries'), ['xmrig', 't-rex', 'mysupersecretminer']);
    assert.equal(set.rules.find((r) => r.id === 'miner')!.condition, '(spawned and proc.name in (miner_binaries)) and not proc.cwd startswith "/opt/allowed"');
    assert.deepEqual(set.disabled, ['other']);
    assert.deepEqual(hit(exec(['mysupersecretminer', '-o', 'x'])), ['miner']);
    assert.deepEqual(hit(exec(['xmrig'], { cwd: '/opt/allowed/bin' })), []);
    assert.deepEqual(hit(exec(['xmrig', '--benchmark'])), []);
    assert.deepEqual(hit(exec(['xmrig'], {}, { session: 'lab' })), []);
    assert.deepEqual(hit(exec(['nc', '-l'])), []);
    assert.deepEqual(hit(ev('command', { argv: ['t-rex'], text: 't-rex', depth: 1 })), ['miner']);
  });

  it('replaces macros, and rejects silent redefinitions and unknown overrides', () => {
    const s2 = loadRuleSources([{ file: 'b.yaml', text: builtin }, { file: 'u.yaml', text: '- macro: spawned\n  override: replace\n  condition: evt.kind = command\n' }]);
    const e2 = new DetectionEngine(s2);
    assert.equal(e2.process(exec(['xmrig'])).length, 0);
    assert.equal(e2.process(ev('command', { argv: ['xmrig'] })).length, 1);
    assert.match(loadError(`${builtin}\n- list: miner_binaries\n  items: [a]\n`).message, /already defined .*use override/);
    assert.match(loadError(`${builtin}${rule('miner', 'is_exec')}`).message, /already defined/);
    assert.match(loadError(`- list: nope\n  override: append\n  items: [a]\n`).message, /override of unknown list/);
    assert.match(loadError(`${builtin}\n- rule: miner\n  override: { output: append }\n  output: x\n`).message, /can only be replaced/);
    assert.match(loadError(`${builtin}\n- rule: miner\n  override: { condition: append }\n  output: x\n`).message, /does not say append or replace/);
  });

  it('detections carry rule metadata, attribution, evidence and a sanitised message', () => {
    const e = exec(['xmrig\u001b[31m', '-o', 'pool'], { filename: '/tmp/xmrig' }, { tool_call: 'tc-42', step: 3, pid: 99 });
    const [d] = engine.process(e);
    assert.ok(d);
    assert.equal(d.rule, 'miner');
    assert.equal(d.category, 'tunnel');
    assert.equal(d.severity, 'high');
    assert.deepEqual(d.attack, ['T1572']);
    assert.deepEqual(d.evidence, [e.id]);
    assert.equal(d.event.tool_call, 'tc-42');
    assert.equal(d.reason, 'test reason');
    assert.equal(d.message, 'hit xmrig <none>');
    const bad = engine.process(exec(['xmrig', `a\u001b]0;evil\u0007`.repeat(1)], { filename: `/tmp/xm\nrig` }));
    assert.equal(bad.length, 0); // name 'xm\nrig' is not a miner name
    const p = toAlertPayload(d, 'observed');
    assert.deepEqual({ ...p }, { rule: 'miner', category: 'tunnel', severity: 'high', attack: ['T1572'], message: d.message, reason: 'test reason', evidence: [e.id], action: 'observed' });
  });

  it('escapes control characters in messages', () => {
    const s = rs(rule('r', 'is_exec').replace('"hit %proc.name %net.dst.ip"', '"cmd %proc.cmdline"'));
    const [d] = new DetectionEngine(s).process(exec(['echo', 'a\u001b[2Jb\nc']));
    assert.equal(d!.message, 'cmd echo a\\x1b[2Jb\\x0ac');
    // A field with no value is <none>, but a parenthesised aside holding only it is left out.
    const aside = rs(rule('r', 'is_exec').replace('"hit %proc.name %net.dst.ip"', '"ran %proc.name (%net.name) at %net.dst.ip"'));
    assert.equal(new DetectionEngine(aside).process(exec(['xmrig']))[0]!.message, 'ran xmrig at <none>');
    const nul = new DetectionEngine(aside).process(exec(['a\u0000b']))[0]!.message;
    assert.equal(nul, 'ran a\\x00b at <none>', 'a real NUL in a value is escaped, never taken for an absent field');
  });

  it('computes event kinds for indexing', () => {
    assert.deepEqual([...(set.rules[0]!.kinds as Set<string>)].sort(), ['command', 'exec']);
    const any = rs(rule('r', 'proc.name = x or evt.kind = dns'));
    assert.equal(any.rules[0]!.kinds, 'any');
    assert.equal(new DetectionEngine(any).process(ev('connect', { comm: 'x' })).length, 1);
  });
});

describe('windows', () => {
  const win = (w: string, cond = 'evt.kind = connect', out = '"n=%window.count ip=%net.dst.ip"') =>
    rs(rule('w', cond, `  window: ${w}`).replace('"hit %proc.name %net.dst.ip"', out));
  const conn = (ip: string, port: number, atMs: number, o: Partial<EngineEvent> = {}) =>
    ev('connect', { source: 'syscall', 'network.peer.address': ip, 'network.peer.port': port }, { atMs, ...o });

  it('count: fires once when N events fall within T, with count and evidence', () => {
    const e = new DetectionEngine(win('{ key: tool_call, over: 10s, count: 3 }'));
    const evs = [0, 1000, 2000, 3000, 4000, 5000].map((t) => conn('203.0.113.1', 443, t));
    const fired = evs.map((x) => e.process(x));
    assert.deepEqual(fired.map((f) => f.length), [0, 0, 1, 0, 0, 0]); // once per window
    assert.equal(fired[2]![0]!.count, 3);
    assert.deepEqual(fired[2]![0]!.evidence, evs.slice(0, 3).map((x) => x.id));
    assert.equal(fired[2]![0]!.message, 'n=3 ip=203.0.113.1');
    // after the quiet period it counts afresh (events during the quiet period still count)
    assert.equal(e.process(conn('203.0.113.1', 443, 12_500)).length, 1);
  });

  it('forgetSession drops a closed session\'s tool call and session windows; episode windows outlive it', () => {
    const byKey = (key: string) => new DetectionEngine(win(`{ key: ${key}, over: 10s, count: 3 }`));
    for (const key of ['tool_call', 'session', 'episode']) {
      const e = byKey(key);
      // two events of s1 (two tool calls), two of s2, one of s1 without an episode
      e.process(conn('203.0.113.1', 443, 0, { session: 's1', tool_call: 'a' }));
      e.process(conn('203.0.113.1', 443, 1, { session: 's1', tool_call: 'b' }));
      e.process(conn('203.0.113.1', 443, 2, { session: 's2', tool_call: 'a', episode: 'ep2' }));
      e.process(conn('203.0.113.1', 443, 3, { session: 's1', tool_call: 'c', episode: undefined }));
      const before = e.stats().windowKeys;
      const gone = e.forgetSession('s1');
      assert.equal(e.stats().windowKeys, before - gone, key);
      // tool_call: s1's three calls (a, b, and c's), session: s1's, episode: only the episode-less fallback of s1
      assert.equal(gone, key === 'tool_call' ? 3 : key === 'session' ? 1 : 1, key);
      // a prefix of another session's id is not that session
      assert.equal(e.forgetSession('s'), 0, key);
    }
    // an episode reopened in a later session of its run still adds up: its window survived the first session's end
    const ep = byKey('episode');
    ep.process(conn('203.0.113.1', 443, 0, { session: 's1', tool_call: 'a' }));
    ep.process(conn('203.0.113.1', 443, 1, { session: 's1', tool_call: 'b' }));
    ep.forgetSession('s1');
    assert.equal(ep.process(conn('203.0.113.1', 443, 2, { session: 's3', tool_call: 'a' })).length, 1);
    // a tool call window of a forgotten session starts afresh if an event of it still comes
    const tc = byKey('tool_call');
    tc.process(conn('203.0.113.1', 443, 0));
    tc.process(conn('203.0.113.1', 443, 1));
    tc.forgetSession('s1');
    assert.equal(tc.process(conn('203.0.113.1', 443, 2)).length, 0);
  });

  it('count: events spread wider than T do not fire; keys are separate', () => {
    const e = new DetectionEngine(win('{ key: tool_call, over: 10s, count: 3 }'));
    const out = [0, 6000, 12000, 18000].flatMap((t) => e.process(conn('203.0.113.1', 443, t)));
    assert.equal(out.length, 0);
    const e2 = new DetectionEngine(win('{ key: tool_call, over: 10s, count: 3 }'));
    const o2 = [['a', 0], ['b', 1], ['a', 2], ['b', 3]].flatMap(([tc, t]) => e2.process(conn('203.0.113.1', 443, t as number, { tool_call: tc as string })));
    assert.equal(o2.length, 0);
    const e3 = new DetectionEngine(win('{ key: session, over: 10s, count: 3 }'));
    const o3 = [['a', 0], ['b', 1], ['c', 2]].flatMap(([tc, t]) => e3.process(conn('203.0.113.1', 443, t as number, { tool_call: tc as string })));
    assert.equal(o3.length, 1);
    assert.equal(o3[0]!.event.tool_call, 'c'); // attribution comes from the triggering event
    // a tool call id is unique only within its session: the same id in two sessions is two keys
    const e4 = new DetectionEngine(win('{ key: tool_call, over: 10s, count: 3 }'));
    const o4 = [['s1', 0], ['s2', 1], ['s1', 2], ['s2', 3]].flatMap(([sess, t]) => e4.process(conn('203.0.113.1', 443, t as number, { session: sess as string, tool_call: 'call-1' })));
    assert.equal(o4.length, 0);
    // an episode name is unique only within its run: two runs' 'ep1' are two keys; one episode over two sessions of its run is one
    const e5 = new DetectionEngine(win('{ key: episode, over: 10s, count: 3 }'));
    const o5 = [['r1', 0], ['r2', 1], ['r1', 2], ['r2', 3]].flatMap(([run, t]) => e5.process(conn('203.0.113.1', 443, t as number, { run: run as string, session: `s-${run}`, episode: 'ep1' })));
    assert.equal(o5.length, 0);
    const o6 = [['sa', 0], ['sb', 1], ['sa', 2]].flatMap(([sess, t]) => e5.process(conn('203.0.113.1', 443, 100 + (t as number), { run: 'r3', session: sess as string, episode: 'ep1' })));
    assert.equal(o6.length, 1);
  });

  it('distinct: a scan of N distinct ports within T fires once', () => {
    const e = new DetectionEngine(win('{ key: tool_call, over: 60s, distinct: net.dst.port, threshold: 5 }'));
    const same = [0, 1, 2, 3, 4, 5, 6].map((t) => conn('10.0.0.1', 22, t));
    assert.equal(same.flatMap((x) => e.process(x)).length, 0); // one distinct value, however often
    const scan = Array.from({ length: 20 }, (_, i) => conn('10.0.0.1', 1000 + i, 100 + i));
    const out = scan.flatMap((x) => e.process(x));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.count, 5);
    assert.equal(out[0]!.event.id, scan[3]!.id); // 22 + four scanned ports
    assert.deepEqual(out[0]!.evidence, [same[6]!.id, ...scan.slice(0, 4).map((x) => x.id)]);
  });

  it('distinct: values older than T expire', () => {
    const e = new DetectionEngine(win('{ key: tool_call, over: 10s, distinct: net.dst.ip, threshold: 3 }'));
    assert.equal([conn('10.0.0.1', 1, 0), conn('10.0.0.2', 1, 5000), conn('10.0.0.3', 1, 11_000)].flatMap((x) => e.process(x)).length, 0);
    assert.equal(e.process(conn('10.0.0.4', 1, 12_000)).length, 1); // .2 .3 .4 within 10 s
  });

  it('group_by: repeated attempts to one destination (beaconing), per destination', () => {
    const e = new DetectionEngine(win('{ key: session, over: 60s, count: 4, group_by: net.dst.ip }'));
    const spread = Array.from({ length: 8 }, (_, i) => conn(`203.0.113.${i}`, 443, i * 100));
    assert.equal(spread.flatMap((x) => e.process(x)).length, 0);
    const beacon = Array.from({ length: 4 }, (_, i) => conn('198.51.100.9', 443, 1000 + i * 5000));
    const out = beacon.flatMap((x) => e.process(x));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.message, 'n=4 ip=198.51.100.9');
    assert.deepEqual(out[0]!.evidence, beacon.map((x) => x.id));
  });

  it('sustained: fires when the condition held on every sample for T; a break or a gap resets', () => {
    const cond = 'evt.kind = resource and res.cpu_pct >= 90';
    const mk = () => new DetectionEngine(win('{ key: tool_call, over: 30s, sustained: true }', cond, '"cpu %res.cpu_pct n=%window.count"'));
    const res = (pct: number, atMs: number) => ev('resource', { scope: 'tool_call', cpu_pct: pct }, { atMs });
    const e = mk();
    const steady = Array.from({ length: 7 }, (_, i) => res(99, i * 5000)); // 0..30 s
    const out = steady.flatMap((x) => e.process(x));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.count, 7);
    assert.equal(out[0]!.event.id, steady[6]!.id);
    const e2 = mk();
    const broken = [99, 99, 99, 20, 99, 99, 99, 99].map((p, i) => res(p, i * 5000));
    assert.equal(broken.flatMap((x) => e2.process(x)).length, 0);
    const e3 = mk();
    const gappy = [0, 5000, 50_000, 55_000, 60_000].map((t) => res(99, t));
    assert.equal(gappy.flatMap((x) => e3.process(x)).length, 0);
    // events of other kinds do not reset it
    const e4 = mk();
    const mixed = Array.from({ length: 7 }, (_, i) => [exec(['ls'], {}, { atMs: i * 5000 + 1 }), res(95, i * 5000)]).flat();
    assert.equal(mixed.flatMap((x) => e4.process(x)).length, 1);
    assert.throws(() => win('{ key: tool_call, over: 30s, sustained: true }', 'res.cpu_pct > 1'), /sustained window needs a condition that names its event kinds/);
  });

  it('mean: fires on a high time-weighted mean over T even when single samples dip below the bar', () => {
    const cond = 'evt.kind = resource and res.scope = process';
    const mk = (w = '{ key: tool_call, over: 60s, mean: res.cpu_pct, threshold: 70, step: 10s, group_by: proc.name }') =>
      new DetectionEngine(win(w, cond, '"%proc.name mean=%window.value n=%window.count"'));
    const res = (pct: number, atMs: number, comm = 'kworkerd', o: Partial<EngineEvent> = {}) => ev('resource', { scope: 'process', comm, cpu_pct: pct }, { atMs, ...o });
    // an 85 % duty cycle whose samples wobble around the old 90 % bar: a sustained window never fires, the mean does
    const duty = [85, 92, 80, 88, 84, 91, 79, 86, 85, 87, 83, 90, 86].map((p, i) => res(p, i * 5000));
    const e = mk();
    const out = duty.flatMap((x) => e.process(x));
    assert.equal(out.length, 1);
    // fires once the samples cover 60 s: 12 samples 5 s apart, the first standing for the 5 s before it
    assert.equal(out[0]!.event.id, duty[11]!.id);
    assert.equal(out[0]!.count, 12);
    assert.equal(out[0]!.value, 85.8);
    assert.equal(out[0]!.message, 'kworkerd mean=85.8 n=12');
    assert.deepEqual(out[0]!.evidence, duty.slice(0, 12).map((x) => x.id));
    const sus = new DetectionEngine(win('{ key: tool_call, over: 60s, sustained: true, group_by: proc.name }', `${cond} and res.cpu_pct >= 90`));
    assert.equal(duty.flatMap((x) => sus.process(x)).length, 0); // what the red team found
    // under the threshold: quiet; a quiet period follows a hit, then the next window fires again
    const e2 = mk();
    assert.equal(Array.from({ length: 30 }, (_, i) => res(60, i * 5000)).flatMap((x) => e2.process(x)).length, 0);
    const e3 = mk();
    const long = Array.from({ length: 30 }, (_, i) => res(99, i * 5000)).flatMap((x) => e3.process(x));
    assert.deepEqual(long.map((d) => d.event.ts), [55_000, 115_000].map((ms) => (T0 + BigInt(ms) * 1_000_000n).toString())); // one per 60 s
    // the live sampler's record of burn.py 0.85 in the lab (13 samples, the last 59.9998 s after the first)
    const lab: [number, number][] = [[0, 84.8], [4999.2, 78.8], [9999.9, 73], [15004.3, 72.6], [20000.2, 74.4], [25000.4, 82.8], [30000.6, 85],
      [35000.1, 76.4], [39999.9, 71.4], [44999.96, 71.8], [50000.9, 76.2], [55000.2, 71.8], [59999.8, 71.8]];
    const eLab = mk();
    const labHits = lab.map(([t, p]) => res(p, t, 'kthreadd2')).flatMap((x) => eLab.process(x));
    assert.equal(labHits.length, 1);
    assert.equal(labHits[0]!.value, 75.5); // at the 12th sample, 55 s in: the first stands for the 5 s before it
    // jittered sampling (5.1 s apart) still fires, and reads the right mean
    const e4 = mk();
    const jit = Array.from({ length: 14 }, (_, i) => res(80, i * 5100)).flatMap((x) => e4.process(x));
    assert.equal(jit.length, 1);
    assert.equal(jit[0]!.value, 80);
  });

  it('mean: gaps longer than step count as 0, gaps longer than T restart the run, groups and keys are separate', () => {
    const cond = 'evt.kind = resource and res.scope = process';
    const mk = () => new DetectionEngine(win('{ key: tool_call, over: 60s, mean: res.cpu_pct, threshold: 70, step: 10s, group_by: proc.name }', cond));
    const res = (pct: number, atMs: number, comm = 'kworkerd', o: Partial<EngineEvent> = {}) => ev('resource', { scope: 'process', comm, cpu_pct: pct }, { atMs, ...o });
    // bursts: 15 s at 100 % every 50 s (a sampler reports a process only while it is busy): true mean ~30 %
    const bursty = [0, 5, 10, 15, 50, 55, 60, 65, 100, 105, 110, 115, 150, 155, 160, 165].map((t) => res(t % 50 === 15 ? 2 : 100, t * 1000));
    const e = mk();
    assert.equal(bursty.flatMap((x) => e.process(x)).length, 0);
    // without step a sample stands for the whole gap before it: the same bursts read as ~90 %
    const e1 = new DetectionEngine(win('{ key: tool_call, over: 60s, mean: res.cpu_pct, threshold: 70, group_by: proc.name }', cond));
    assert.ok(bursty.flatMap((x) => e1.process(x)).length >= 1);
    // a gap longer than over starts a new run: it needs a full window again
    const e2 = mk();
    const runs = [...[0, 5, 10, 15, 20, 25, 30].map((t) => res(99, t * 1000)), ...[100, 105, 110, 115, 120, 125, 130, 135, 140, 145, 150].map((t) => res(99, t * 1000))];
    assert.equal(runs.flatMap((x) => e2.process(x)).length, 0);
    assert.equal(e2.process(res(99, 155_000)).length, 1); // 95 s (the first sample's interval) to 155 s
    // two processes under different names and two tool calls keep their own state
    const e3 = mk();
    const mixed = Array.from({ length: 13 }, (_, i) => [res(99, i * 5000, 'a'), res(20, i * 5000, 'b'), res(99, i * 5000, 'a', { tool_call: 'tc2' })]).flat();
    const hits = mixed.flatMap((x) => e3.process(x));
    assert.deepEqual(hits.map((d) => `${d.event.tool_call}/${(d.event.payload as { comm: string }).comm}`), ['tc1/a', 'tc2/a']);
    // samples without the field are ignored; the field must be numeric; threshold is a value, not an entry count
    const e4 = mk();
    assert.equal(Array.from({ length: 20 }, (_, i) => ev('resource', { scope: 'process', comm: 'x' }, { atMs: i * 5000 })).flatMap((x) => e4.process(x)).length, 0);
    assert.throws(() => win('{ key: tool_call, over: 60s, mean: proc.name, threshold: 70 }', cond), /mean needs a numeric field/);
    assert.throws(() => win('{ key: tool_call, over: 60s, mean: res.cpu_pct }', cond), /threshold must be a positive number/);
    assert.throws(() => win('{ key: tool_call, over: 60s, sustained: true, step: 5s }', cond), /step goes with mean/);
    assert.ok(new DetectionEngine(win('{ key: tool_call, over: 60s, mean: res.cpu_pct, threshold: 90000 }', cond), { maxEntriesPerKey: 10 }));
  });

  it('distinct + sum: adds a numeric field once per distinct value (bytes of distinct DNS names)', () => {
    const cond = 'evt.kind = dns';
    const mk = () => new DetectionEngine(win('{ key: session, over: 60s, distinct: dns.name, sum: dns.subdomain_len, threshold: 100, group_by: dns.domain }', cond, '"%dns.domain sum=%window.value n=%window.count"'));
    const q = (name: string, atMs: number, o: Partial<EngineEvent> = {}) => ev('dns', { name, qtype: 'A' }, { atMs, ...o });
    // one long name asked again and again (A, AAAA, retries) counts once
    const e = mk();
    assert.equal(Array.from({ length: 50 }, (_, i) => q('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.cdn.test', i * 100)).flatMap((x) => e.process(x)).length, 0);
    // distinct names add up (40 + 4 chars each, per domain), across tool calls of the session
    const names = Array.from({ length: 3 }, (_, i) => q(`${String(i).repeat(40)}.t.exfil.test`, 1000 + i * 100, { tool_call: `c${i}` }));
    const out = names.flatMap((x) => e.process(x));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.message, 'exfil.test sum=126 n=3');
    assert.equal(out[0]!.event.tool_call, 'c2');
    assert.deepEqual(out[0]!.evidence, names.map((x) => x.id));
    // values expire with their time (47 chars each): a and b are gone when c and d come, e makes three within 60 s
    const e2 = mk();
    const slow = [q(`${'a'.repeat(45)}.t.exfil.test`, 0), q(`${'b'.repeat(45)}.t.exfil.test`, 1000), q(`${'c'.repeat(45)}.t.exfil.test`, 62_000), q(`${'d'.repeat(45)}.t.exfil.test`, 63_000)];
    assert.equal(slow.flatMap((x) => e2.process(x)).length, 0);
    const last = e2.process(q(`${'e'.repeat(45)}.t.exfil.test`, 64_000));
    assert.equal(last.length, 1);
    assert.equal(last[0]!.value, 141);
    assert.throws(() => win('{ key: session, over: 60s, distinct: dns.name, sum: dns.qtype, threshold: 5 }', cond), /sum needs a numeric field/);
    assert.throws(() => win('{ key: session, over: 60s, count: 3, sum: dns.name_len }', cond), /sum goes with distinct/);
  });

  it('bounds memory: keys are evicted past maxWindowKeys, and flush drops state', () => {
    const set = win('{ key: session, over: 60s, count: 3, group_by: net.dst.ip }');
    const e = new DetectionEngine(set, { maxWindowKeys: 100 });
    for (let i = 0; i < 5000; i++) e.process(conn(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 80, i));
    assert.ok(e.stats().windowKeys <= 100, `keys ${e.stats().windowKeys}`);
    assert.ok(e.stats().windowEvictions >= 4900);
    // a hot key keeps working under the flood
    const out = [0, 1, 2].flatMap((k) => e.process(conn('198.51.100.1', 80, 6000 + k)));
    assert.equal(out.length, 1);
    e.flush((T0 + 10_000_000_000_000n));
    assert.equal(e.stats().windowKeys, 0);
    const e2 = new DetectionEngine(win('{ key: tool_call, over: 60s, distinct: net.dst.port, threshold: 5000 }'), { maxEntriesPerKey: 8000 });
    for (let i = 0; i < 4000; i++) e2.process(conn('10.0.0.1', i, i));
    assert.equal(e2.stats().windowKeys, 1);
    assert.throws(() => new DetectionEngine(win('{ key: tool_call, over: 60s, count: 10 }'), { maxEntriesPerKey: 5 }), /exceeds maxEntriesPerKey/);
  });
});

describe('field getters', () => {
  it('kind-specialised getter copies return exactly what the originals return', async () => {
    const { FieldTable, FIELDS } = await import('../src/detect/engine/fields.js');
    const table = new FieldTable();
    const samples: EngineEvent[] = [
      exec(['/usr/bin/python3', '-c', 'x'], { filename: '/usr/bin/python3', cwd: '/w', truncated: true }, { pid: 5, ppid: 4, step: 2 }),
      ev('command', { argv: ['bash', '-c', 'id'], text: 'id', depth: 1, via: 'bash -c', inline_lang: 'python', inline_code: 'import os' }),
      ev('connect', { source: 'syscall', family: 'inet', 'network.peer.address': '169.254.169.254', 'network.peer.port': 80, comm: 'curl' }),
      ev('connect', { source: 'gateway', 'network.peer.address': '203.0.113.1', 'network.peer.port': 3333, 'server.address': 'Pool.Test.', sni: 'x.test', protocol: 'mining', decision: 'deny', rule: 'r', address_class: 'public', detail: 'mining.subscribe', observed: true }),
      ev('flow', { 'network.peer.address': '10.0.0.1', 'network.peer.port': 443, bytes_up: 5, bytes_down: 6, duration_ms: 7 }),
      ev('drop', { proto: 'udp', 'network.peer.address': '192.168.0.1', 'network.peer.port': 161 }),
      ev('dns', { name: 'AbC.d3f.Example.test.', qtype: 'TXT', verdict: 'deny', rule: 'r', answers: ['1.2.3.4'], rcode: 3 }),
      ev('resource', { scope: 'process', comm: 'x', cpu_pct: 99, cpu_ns: 1, memory_peak_bytes: 2, pids: 3, oom_kills: 1, pids_max_hits: 2, throttled_periods: 4, gpu_util_pct: 5, gpu_mem_bytes: 6, gpu_process: 'g' }),
      ev('exit', { exit_code: 1, signal: 9, comm: 'sh' }),
      ev('toolcall.start', { command: 'ls', tool: 'bash' }),
      // (the halves of a relayed shell: their getters call a helper, which a copy must also reach)
      exec(['/bin/sh'], { filename: '/bin/sh', stdio_pipe: [0, 1], fed_by_pid: 4, fed_by_net: '198.51.100.10:80' }, { pid: 5, ppid: 4 }),
      ev('connect', { source: 'syscall', family: 'inet', 'network.peer.address': '198.51.100.10', 'network.peer.port': 80, comm: 'node', feeds_shell: 5 }),
    ];
    let defined = 0;
    for (const s of samples) {
      const a = table.newCache().reset(s);
      const b = table.newCache().reset(s, table.gettersFor(s.kind));
      for (const fld of FIELDS) {
        const slot = table.resolve(fld.name)!.slot;
        const va = a.g(slot);
        assert.deepEqual(b.g(slot), va, `${s.kind} ${fld.name}`);
        if (va !== undefined) defined++;
        // (the cache turns a getter's exception into "no value": a copy missing a helper from its scope would hide there)
        assert.doesNotThrow(() => table.gettersFor(s.kind)[slot]!(s, b), `${s.kind} ${fld.name}`);
      }
    }
    assert.ok(defined > 80, `only ${defined} field values defined across samples`);
  });
});

describe('command-line prefilter', () => {
  it('extracts only literals every match must contain', async () => {
    const { regexLiterals } = await import('../src/detect/engine/prefilter.js');
    assert.deepEqual(regexLiterals('release_agent|notify_on_release'), ['release_agent', 'notify_on_release']);
    assert.deepEqual(regexLiterals('(?i)Stratum[0-9]?\\+(tcp|ssl)://'), ['stratum']);
    assert.deepEqual(regexLiterals('a{2}bcd'), ['bcd']); // not "2bcd"
    assert.deepEqual(regexLiterals('\\x41bcd|xyz'), ['bcd', 'xyz']); // not "41bcd"
    assert.deepEqual(regexLiterals('ab?cde'), ['cde']);
    assert.deepEqual(regexLiterals('abcd|(x|y)z'), 'any'); // one alternative has no literal
    assert.deepEqual(regexLiterals('^(/proc/(self|[0-9]+)/fd)'), 'any');
    for (const src of ['release_agent|notify_on_release', 'a{2}bcd', '\\x41bcd|xyz', 'ab?cde', 'foo\\.bar+baz', '(?i)Stratum[0-9]?\\+(tcp|ssl)://']) {
      const lits = regexLiterals(src);
      const re = new RegExp(src.replace('(?i)', ''), src.startsWith('(?i)') ? 'i' : '');
      for (const t of ['xx release_agent', 'aabcd', 'Abcd', 'acde', 'abcde', 'foo.barrrbaz', 'STRATUM+tcp://', 'xyz']) {
        if (re.test(t)) assert.ok(lits !== 'any' && lits.some((l) => t.toLowerCase().includes(l)), `${src} matched ${t} without a literal`);
      }
    }
  });

  it('never changes the engine\'s detections (built-in rules, examples, generated and mutated events)', async () => {
    const { runRuleExamples: _unused, loadBuiltinRules } = await import('../src/detect/engine/api.js');
    void _unused;
    const { exampleEvents } = await import('../src/detect/engine/examples.js');
    const set = loadBuiltinRules();
    const events: EngineEvent[] = [];
    for (const r of set.rules) for (const ex of [...r.examples.match, ...r.examples.nomatch]) {
      if (typeof ex !== 'string') events.push(...exampleEvents(ex, `p-${r.id}`));
    }
    // Mutations: upper-case, wrap in a shell, add non-ASCII, cut argv.
    const base = events.filter((e) => e.kind === 'exec');
    for (const e of base) {
      const argv = ((e.payload as { argv?: string[] }).argv ?? []);
      events.push({ ...e, id: `${e.id}-up`, payload: { ...e.payload, argv: argv.map((a) => String(a).toUpperCase()) } });
      events.push({ ...e, id: `${e.id}-sh`, payload: { argv: ['bash', '-c', argv.join(' ')], filename: '/bin/bash' } });
      events.push({ ...e, id: `${e.id}-na`, payload: { ...e.payload, argv: [...argv, 'ſtratum+tcp://x'] } });
      events.push({ ...e, id: `${e.id}-cut`, payload: { ...e.payload, argv: argv.slice(0, 1) } });
    }
    const on = new DetectionEngine(set);
    const off = new DetectionEngine(set, { prefilter: false });
    const key = (e: EngineEvent) => on.process(e).map((d) => `${d.rule}:${d.count ?? ''}`).sort().join(',');
    const keyOff = (e: EngineEvent) => off.process(e).map((d) => `${d.rule}:${d.count ?? ''}`).sort().join(',');
    let fired = 0;
    for (const e of events) {
      const a = key(e);
      assert.equal(a, keyOff(e), `event ${e.id}`);
      if (a) fired++;
    }
    assert.ok(events.length > 500 && fired > 100, `${events.length} events, ${fired} with detections`);
  });
});
