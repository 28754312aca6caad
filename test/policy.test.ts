// Why: the policy layer decides what sandboxed code may reach; these tests pin its behaviour on
// real inputs (presets on disk, YAML text with known line numbers, concrete addresses) so that a
// regression that would open metadata, internal ranges or fronting shows up as a failing case.

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  checkPolicy,
  classifyAddress,
  compilePolicy,
  listPresets,
  loadPolicyFile,
  loadPreset,
  parsePolicy,
  type Policy,
  PolicyError,
  resolvePolicy,
  withExtraAllows,
  withExtraMounts,
} from '../src/policy/index.js';
import { hostRangeList } from '../src/policy/address-class.js';
import { leaseSubnet } from '../src/sandbox/address-leases.js';
import { policyDigest } from '../src/policy/policy-digest.js';
import { DEFAULT_WORKSPACE_DISK, effectiveWorkspaceDisk } from '../src/policy/schema.js';

function policy(yaml: string): Policy {
  return parsePolicy(yaml, 'policies/t.yaml');
}

function errorOf(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a PolicyError');
}

const LAB = { env: { CORRAL_LAB: '1' } };

describe('presets', () => {
  it('lists and loads every shipped preset', () => {
    const names = listPresets();
    for (const n of ['default', 'package-registries', 'lab-demo']) assert.ok(names.includes(n), `missing preset ${n}`);
    for (const n of names) assert.equal(loadPreset(n).name, n);
  });

  it('default is no-egress, enforce, with the documented limits', () => {
    const p = loadPreset('default');
    assert.equal(p.mode, 'enforce');
    assert.deepEqual(p.network.allow, []);
    assert.equal(p.resources.cpus, 1);
    assert.equal(p.resources.memory, 1024 ** 3);
    assert.equal(p.resources.pids, 256);
    assert.equal(p.resources.timeout, 120_000);
    assert.ok(p.filesystem.hide.includes('~/.ssh'));
    assert.deepEqual(p.filesystem.env_allow, ['PATH', 'LANG', 'LC_ALL', 'TERM', 'HOME']);
    const c = compilePolicy(p);
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test' }).rule, 'default-deny');
    assert.equal(c.decideDns('registry.test').verdict, 'deny');
  });

  it('lab-demo resolves registry.test and the pool statically and allows the pool IP on 443 only for tls/http', () => {
    const p = loadPreset('lab-demo');
    assert.deepEqual(p.network.hosts, { 'registry.test': '198.51.100.10', 'pool.minexmr.test': '203.0.113.20' });
    assert.deepEqual(p.network.resolvers, []);
    const c = compilePolicy(p);
    assert.equal(c.decideDns('registry.test').staticAddress, '198.51.100.10');
    assert.equal(c.decideDns('pool.minexmr.test').staticAddress, '203.0.113.20');
    assert.equal(c.decideConnect({ ip: '203.0.113.20', port: 443, name: 'pool.minexmr.test' }).verdict, 'allow');
    assert.equal(c.decideConnect({ ip: '203.0.113.20', port: 443, name: 'pool.minexmr.test', protocol: 'mining' }).rule, 'protocol:mining-not-allowed');
    assert.equal(c.decideConnect({ ip: '203.0.113.20', port: 3333, name: 'pool.minexmr.test' }).rule, 'port:3333-not-allowed');
  });

  it('package-registries allows only 443/tls to the registries and never needs resolving in tests', () => {
    const c = compilePolicy(loadPreset('package-registries'));
    // A documentation address stands in for wherever the name resolved; nothing is contacted.
    assert.equal(c.decideConnect({ ip: '192.0.2.1', port: 443, name: 'files.pythonhosted.org', protocol: 'tls' }).verdict, 'allow');
    assert.equal(c.decideConnect({ ip: '192.0.2.1', port: 443, name: 'raw.githubusercontent.com', protocol: 'tls' }).verdict, 'allow');
    assert.equal(c.decideConnect({ ip: '192.0.2.1', port: 80, name: 'registry.npmjs.org' }).rule, 'port:80-not-allowed');
    assert.equal(c.decideConnect({ ip: '192.0.2.1', port: 443, name: 'registry.npmjs.org', protocol: 'http' }).rule, 'protocol:http-not-allowed');
    // No resolvers configured: allowed names are refused at DNS rather than forwarded.
    assert.equal(c.decideDns('github.com').rule, 'no-resolver');
  });

  it('resolvePolicy: default, preset names, paths, and unknown names', () => {
    assert.equal(resolvePolicy(undefined).name, 'default');
    assert.equal(resolvePolicy('lab-demo').name, 'lab-demo');
    // A file named like a preset in the working directory (a sandbox's writable workspace under
    // `--workspace .`) never stands in for the preset; `./default` names it on purpose.
    const cwd = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'corral-preset-'));
    try {
      writeFileSync(join(dir, 'default'), 'name: default\nnetwork:\n  allow:\n    - cidr: 0.0.0.0/0\n      ports: any\n');
      process.chdir(dir);
      assert.deepEqual(resolvePolicy('default').network.allow, [], 'the preset, not the planted file');
      assert.equal(resolvePolicy('./default').network.allow.length, 1);
    } finally { process.chdir(cwd); rmSync(dir, { recursive: true, force: true }); }
    const e = errorOf(() => resolvePolicy('no-such-preset'));
    assert.match(e.message, /unknown preset 'no-such-preset'; available presets: .*default/);
    const e2 = errorOf(() => resolvePolicy('/nonexistent/dir/p.yaml'));
    assert.match(e2.message, /cannot read policy file .*ENOENT/);
  });
});

describe('parsing and normalisation', () => {
  it('applies defaults and normalises sizes, durations, domains and CIDRs', () => {
    const p = policy(`name: x
network:
  allow:
    - domain: Registry.Test.
    - cidr: 198.51.100.7
      ports: any
  resolvers: ['198.51.100.53', '198.51.100.54:5353', '[2001:db8::53]:53']
resources:
  memory: 512MiB
  timeout: 500ms
  workspace_size: 1G
`);
    const [a, b] = p.network.allow;
    assert.deepEqual(a, { domain: 'registry.test', ports: [80, 443], protocols: ['tls', 'http', 'other'] });
    assert.equal(b?.cidr, '198.51.100.7/32');
    assert.equal(b?.ports, 'any');
    assert.equal(p.resources.memory, 512 * 1024 ** 2);
    assert.equal(p.resources.timeout, 500);
    assert.equal(p.resources.workspace_size, 1024 ** 3);
    assert.equal(policy('name: y\nresources: {timeout: 5m, memory: 100MB}').resources.timeout, 300_000);
    assert.equal(policy('name: y\nresources: {memory: 100MB}').resources.memory, 100_000_000);
    assert.equal(policy('name: y\nresources: {timeout: 30}').resources.timeout, 30_000);
    assert.equal(policy('name: y\nresources: {memory: 8388608}').resources.memory, 8388608);
  });

  it('takes the name from the file when it is missing', () => {
    assert.equal(parsePolicy('mode: enforce\n', 'dir/my-pol.yaml').name, 'my-pol');
  });

  it('extends: child keys override, allow rules append after the parent, hosts merge', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-policy-'));
    try {
      writeFileSync(join(dir, 'child.yaml'), `name: child
extends: lab-demo
network:
  allow:
    - domain: other.test
  hosts:
    other.test: 198.51.100.11
resources:
  pids: 64
`);
      const p = loadPolicyFile(join(dir, 'child.yaml'));
      assert.equal(p.name, 'child');
      assert.deepEqual(p.network.allow.map((r) => r.domain ?? r.cidr), ['registry.test', '203.0.113.20/32', 'other.test']);
      assert.equal(p.network.hosts['registry.test'], '198.51.100.10');
      assert.equal(p.network.hosts['other.test'], '198.51.100.11');
      assert.equal(p.resources.pids, 64);
      assert.equal(p.resources.memory, 1024 ** 3); // from default via lab-demo

      writeFileSync(join(dir, 'a.yaml'), 'name: a\nextends: ./b.yaml\n');
      writeFileSync(join(dir, 'b.yaml'), 'name: b\nextends: ./a.yaml\n');
      const cycle = errorOf(() => loadPolicyFile(join(dir, 'a.yaml')));
      assert.match(cycle.message, /extends cycle/);
      // (named at the line of the `extends` that closes the cycle)
      assert.match(cycle.message, /b\.yaml:2:10: extends: extends cycle/);
      writeFileSync(join(dir, 'c.yaml'), 'name: c\n\nextends: nope\n');
      const e = errorOf(() => loadPolicyFile(join(dir, 'c.yaml')));
      assert.equal(e.field, 'extends');
      assert.deepEqual([e.line, e.column], [3, 10]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('size limits: a file over 1 MiB, a list over 10 000 entries (alone or with what it extends) and an extends chain over 8 files are errors at their place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-policy-limits-'));
    const write = (f: string, y: string) => writeFileSync(join(dir, f), y);
    const rules = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `    - {domain: h${from + i}.t}`).join('\n');
    try {
      // (a file just over the limit is refused before it is parsed: fast, and naming the size)
      write('huge.yaml', `name: huge\n# ${'x'.repeat(1024 * 1024)}\n`);
      const started = Date.now();
      const huge = errorOf(() => loadPolicyFile(join(dir, 'huge.yaml')));
      assert.match(huge.message, /huge\.yaml: cannot read policy file .*huge\.yaml: is \d+ bytes, larger than the 1048576 this file may be/);
      assert.ok(Date.now() - started < 1000);
      assert.match(errorOf(() => parsePolicy(`name: t\n#${'y'.repeat(1024 * 1024)}`, 'policies/t.yaml')).message, /larger than the 1048576 a policy file may be/);
      // exactly 10 000 rules load; 10 001 are refused at the list's line
      write('max.yaml', `name: max\nnetwork:\n  allow:\n${rules(10_000)}\n`);
      assert.equal(loadPolicyFile(join(dir, 'max.yaml')).network.allow.length, 10_000);
      write('over.yaml', `name: over\n\nnetwork:\n  deny:\n${rules(10_001)}\n`);
      const over = errorOf(() => loadPolicyFile(join(dir, 'over.yaml')));
      assert.equal(over.field, 'network.deny');
      assert.equal(over.line, 5);
      assert.match(over.message, /10001 rules, more than the 10000 a policy may hold/);
      // 6 000 here and 6 000 in the parent: refused as merged, at the child's list
      write('parent.yaml', `name: parent\nnetwork:\n  allow:\n${rules(6000)}\n`);
      write('child.yaml', `name: child\nextends: ./parent.yaml\nnetwork:\n  allow:\n${rules(6000, 6000)}\n`);
      const merged = errorOf(() => loadPolicyFile(join(dir, 'child.yaml')));
      assert.match(merged.message, /child\.yaml:5:\d+: network\.allow: 12000 rules with those of the policies it extends/);
      // hosts: a mapping counts its keys
      write('hosts.yaml', `name: hosts\nnetwork:\n  hosts:\n${Array.from({ length: 10_001 }, (_, i) => `    h${i}.t: 10.0.${i >> 8}.${i & 255}`).join('\n')}\n`);
      assert.match(errorOf(() => loadPolicyFile(join(dir, 'hosts.yaml'))).message, /network\.hosts: 10001 host entries/);
      // a chain of 8 files loads, of 9 is refused at the extends that makes it 9
      for (let i = 1; i <= 9; i++) write(`l${i}.yaml`, `name: l${i}\n${i < 9 ? `extends: ./l${i + 1}.yaml\n` : ''}`);
      assert.equal(loadPolicyFile(join(dir, 'l2.yaml')).name, 'l2');
      const deep = errorOf(() => loadPolicyFile(join(dir, 'l1.yaml')));
      assert.equal(deep.field, 'extends');
      assert.match(deep.message, /l8\.yaml:2:10: extends: an extends chain of more than 8 files/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('extends: a child that writes one workspace cap (workspace_size, workspace_disk) drops the other one its parent wrote; a file with both is an error at its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-policy-caps-'));
    const write = (f: string, y: string) => writeFileSync(join(dir, f), y);
    const caps = (f: string) => { const r = loadPolicyFile(join(dir, f)).resources; return [r.workspace_size, r.workspace_disk, effectiveWorkspaceDisk(r)]; };
    try {
      write('mem.yaml', 'name: mem\nextends: default\nresources:\n  workspace_size: 1GiB\n');
      write('disk.yaml', 'name: disk\nextends: ./mem.yaml\nresources:\n  workspace_disk: 8GiB\n');
      write('back.yaml', 'name: back\nextends: ./disk.yaml\nresources:\n  workspace_size: 512MiB\n');
      write('plain.yaml', 'name: plain\nextends: ./disk.yaml\nresources:\n  pids: 64\n');
      write('open.yaml', 'name: open\nextends: ./mem.yaml\nresources:\n  workspace_disk: unlimited\n');
      assert.deepEqual(caps('mem.yaml'), [1024 ** 3, undefined, undefined]);
      assert.deepEqual(caps('disk.yaml'), [undefined, 8 * 1024 ** 3, { bytes: 8 * 1024 ** 3, implicit: false }], 'the child\'s disk cap replaces the parent\'s memory cap');
      assert.deepEqual(caps('back.yaml'), [512 * 1024 ** 2, undefined, undefined], 'and a memory cap replaces an inherited disk cap');
      assert.deepEqual(caps('plain.yaml'), [undefined, 8 * 1024 ** 3, { bytes: 8 * 1024 ** 3, implicit: false }], 'a child that writes neither keeps its parent\'s');
      assert.deepEqual(caps('open.yaml'), [undefined, 'unlimited', undefined]);
      // one file that writes both: an error at the second one's file:line:column, the first named by its line; also through a chain
      write('both.yaml', 'name: both\nresources:\n  workspace_size: 1GiB\n  memory: 2GiB\n  workspace_disk: 8GiB\n');
      write('kid.yaml', 'name: kid\nextends: ./both.yaml\nmode: observe\n');
      for (const f of ['both.yaml', 'kid.yaml']) {
        const e = errorOf(() => loadPolicyFile(join(dir, f)));
        assert.equal(e.file, join(dir, 'both.yaml'), `${f}: the file that wrote both`);
        assert.deepEqual([e.line, e.column, e.field], [5, 19, 'resources.workspace_disk'], e.message);
        assert.equal(e.message, `${join(dir, 'both.yaml')}:5:19: resources.workspace_disk: a workspace has one size cap: resources.workspace_size (line 3) caps it in memory, this one on disk; keep one`);
      }
      // a child's choice still wins over such a parent
      write('fix.yaml', 'name: fix\nextends: ./both.yaml\nresources:\n  workspace_disk: 2GiB\n');
      assert.deepEqual(caps('fix.yaml'), [undefined, 2 * 1024 ** 3, { bytes: 2 * 1024 ** 3, implicit: false }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('extends: empty values and host names (a review, session 35)', () => {
  it('an empty value (YAML null) where a list, mapping or size is expected is an error at its file:line:column, so a child cannot drop what its parent wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-policy-null-'));
    const write = (f: string, y: string) => writeFileSync(join(dir, f), y);
    try {
      write('base.yaml', 'name: base\nnetwork:\n  deny_tls: [98487aa16281980e7d1120d399efb6a4]\n  hosts:\n    registry.test: 198.51.100.10\n  resolvers: [192.0.2.53]\nresources:\n  root_size: 64MiB\nfilesystem:\n  mounts: [{host: /srv/d, path: /data}]\n');
      write('kid.yaml', 'name: kid\nextends: ./base.yaml\nnetwork:\n  deny_tls:\n  hosts:\n  resolvers:\nresources:\n  root_size:\nfilesystem:\n  mounts:\n');
      const e = errorOf(() => loadPolicyFile(join(dir, 'kid.yaml')));
      assert.equal(e.file, join(dir, 'kid.yaml'));
      assert.deepEqual(e.issues.map((i) => [i.line, i.column, i.field]), [
        [4, 12, 'network.deny_tls'], [5, 9, 'network.hosts'], [6, 13, 'network.resolvers'], [8, 13, 'resources.root_size'], [10, 10, 'filesystem.mounts'],
      ]);
      assert.match(e.message, /kid\.yaml:4:12: network\.deny_tls: expected a list of TLS client fingerprints \(\[\] for none\), got null/);
      for (const [key, col] of [['workspace_size', 18], ['workspace_disk', 18]] as const) {
        const w = errorOf(() => policy(`name: t\nresources:\n  ${key}:\n`));
        assert.deepEqual([w.line, w.column, w.field], [3, col, `resources.${key}`]);
      }
      // `[]` and `{}` say "none" in the child's own file: the parent's denied fingerprints and hosts stay
      write('empty.yaml', 'name: empty\nextends: ./base.yaml\nnetwork:\n  deny_tls: []\n  hosts: {}\n');
      const p = loadPolicyFile(join(dir, 'empty.yaml'));
      assert.deepEqual(p.network.deny_tls, ['98487aa16281980e7d1120d399efb6a4']);
      assert.deepEqual(p.network.hosts, { 'registry.test': '198.51.100.10' });
      // (null keeps its documented meaning where it has one)
      assert.equal(policy('name: t\nfilesystem:\n  workspace: null\n  root: null\n').filesystem.root, null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a child\'s host entry wins over its parent\'s whatever its case or trailing dot; twice in one file is still an error at its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-policy-hosts-'));
    const write = (f: string, y: string) => writeFileSync(join(dir, f), y);
    try {
      write('base.yaml', 'name: base\nnetwork:\n  hosts:\n    registry.test: 203.0.113.10\n    other.test: 203.0.113.12\n');
      write('kid.yaml', 'name: kid\nextends: ./base.yaml\nnetwork:\n  hosts:\n    Registry.Test: 203.0.113.11\n');
      write('dot.yaml', 'name: dot\nextends: ./kid.yaml\nnetwork:\n  hosts:\n    "registry.test.": 203.0.113.13\n');
      assert.deepEqual(loadPolicyFile(join(dir, 'kid.yaml')).network.hosts, { 'registry.test': '203.0.113.11', 'other.test': '203.0.113.12' });
      assert.deepEqual(loadPolicyFile(join(dir, 'dot.yaml')).network.hosts, { 'registry.test': '203.0.113.13', 'other.test': '203.0.113.12' });
      write('twice.yaml', 'name: twice\nnetwork:\n  hosts:\n    registry.test: 203.0.113.10\n    Registry.Test: 203.0.113.11\n');
      const e = errorOf(() => loadPolicyFile(join(dir, 'twice.yaml')));
      assert.deepEqual([e.line, e.column, e.field], [5, 20, 'network.hosts["Registry.Test"]']);
      assert.match(e.message, /listed twice/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an issue found only in the merged policy is placed in the file of the chain that wrote its field (child first), never left without a line', async () => {
    const { LineCounter, parseDocument } = await import('yaml');
    const { chainLocator } = await import('../src/policy/chain-place.js');
    const { issuesFromZod } = await import('../src/policy/errors.js');
    const { PolicySchema } = await import('../src/policy/schema.js');
    const parsed = (file: string, text: string) => { const lc = new LineCounter(); return { file, p: { doc: parseDocument(text, { lineCounter: lc }), lc } }; };
    const chain = [
      parsed('kid.yaml', 'name: kid\nextends: ./base.yaml\nnetwork:\n  hosts:\n    registry.test: 203.0.113.11\n'),
      parsed('base.yaml', 'name: base\nresources:\n  pids: 64\nnetwork:\n  allow:\n    - domain: registry.test\n'),
    ];
    // (a merged value no single file holds: the kid's host given a bad address, the base's pids made a string)
    const r = PolicySchema.safeParse({ name: 'kid', network: { hosts: { 'registry.test': 'nope' }, allow: [{ domain: 'registry.test' }] }, resources: { pids: 'x' } });
    assert.ok(!r.success);
    const issues = issuesFromZod(r.error.issues, chainLocator(chain));
    assert.deepEqual(issues.map((i) => [i.file, i.line, i.column, i.field]), [
      ['base.yaml', 3, 9, 'resources.pids'], ['kid.yaml', 5, 20, 'network.hosts["registry.test"]'],
    ]);
    const e = new PolicyError('kid.yaml', issues[0]!, issues.slice(1));
    assert.equal(e.message.split('\n')[1], 'kid.yaml:5:20: network.hosts["registry.test"]: expected an IPv4 address, got \'nope\'');
  });
});

describe('error reporting', () => {
  it('limits past what timers and the kernel take are errors, not a timeout that fires at once', () => {
    assert.match(errorOf(() => policy('name: t\nresources:\n  timeout: 30d\n')).message, /timeout.*at most 24 days/);
    assert.equal(policy('name: t\nresources:\n  timeout: 24d\n').resources.timeout, 24 * 86_400_000);
    assert.match(errorOf(() => policy('name: t\nresources:\n  memory: 99999999999999999999TiB\n')).message, /memory.*at most 8 PiB/);
    assert.match(errorOf(() => policy('name: t\nresources:\n  workspace_size: 99999999999TiB\n')).message, /at most 8 PiB/);
    // below what the kernel or the sandbox itself takes: an error at the field, not EINVAL or a dead holder at session start
    assert.match(errorOf(() => policy('name: t\nresources:\n  cpus: 1e-300\n')).message, /:3:\d+: resources\.cpus.*between 0\.01 and 1024/s);
    assert.equal(policy('name: t\nresources:\n  cpus: 0.01\n').resources.cpus, 0.01);
    assert.match(errorOf(() => policy('name: t\nresources:\n  memory: 1\n')).message, /:3:\d+: resources\.memory.*at least 4MiB/s);
    assert.equal(policy('name: t\nresources:\n  memory: 4MiB\n').resources.memory, 4 << 20);
    assert.equal(policy('name: t\n').resources.ptys, 64);
    assert.equal(policy('name: t\nresources:\n  ptys: 8\n').resources.ptys, 8);
    assert.match(errorOf(() => policy('name: t\nresources:\n  ptys: 0\n')).message, /:3:\d+: resources\.ptys.*1-4096/s);
    assert.match(errorOf(() => policy('name: t\nresources:\n  root_size: 1KiB\n')).message, /root_size.*at least 1MiB/s);
    assert.equal(policy('name: t\nresources:\n  root_size: 2GiB\n').resources.root_size, 2 * 1024 ** 3);
    assert.match(errorOf(() => policy('name: t\nresources:\n  workspace_disk: 1MiB\n')).message, /:3:\d+: resources\.workspace_disk.*at least 16MiB/s);
    assert.equal(policy('name: t\nresources:\n  workspace_disk: 20GiB\n').resources.workspace_disk, 20 * 1024 ** 3);
    assert.equal(policy('name: t\n').resources.workspace_disk, undefined);
    assert.equal(policy('name: t\nresources:\n  workspace_disk: unlimited\n').resources.workspace_disk, 'unlimited');
    assert.match(errorOf(() => policy('name: t\nresources:\n  workspace_disk: none\n')).message, /:3:\d+: resources\.workspace_disk/);
    // both caps in one file: the second one written is named, at its place
    const two = errorOf(() => policy('name: t\nresources:\n  workspace_disk: 8GiB\n  workspace_size: 1GiB\n'));
    assert.equal(two.message, 'policies/t.yaml:4:19: resources.workspace_size: a workspace has one size cap: resources.workspace_disk (line 3) caps it on disk, this one in memory; keep one');
    assert.equal(policy('name: t\nresources:\n  workspace_size: 1GiB\n  workspace_disk: unlimited\n').resources.workspace_size, 1024 ** 3, '`unlimited` is no cap: no conflict');
    // what a session gets: the policy's cap, else the default one (implicit: a host workspace goes without it), none under a memory cap or `unlimited`
    const eff = (y: string) => effectiveWorkspaceDisk(policy(`name: t\n${y}`).resources);
    assert.deepEqual(eff(''), { bytes: DEFAULT_WORKSPACE_DISK, implicit: true });
    assert.deepEqual(eff('resources:\n  workspace_disk: 20GiB\n'), { bytes: 20 * 1024 ** 3, implicit: false });
    assert.equal(eff('resources:\n  workspace_size: 1GiB\n'), undefined);
    assert.equal(eff('resources:\n  workspace_disk: unlimited\n'), undefined);
    assert.deepEqual(effectiveWorkspaceDisk(loadPreset('default').resources), { bytes: 4 * 1024 ** 3, implicit: true }, 'the default preset caps the workspace on disk');
  });

  it('an alias bomb is a policy error naming the file, not a crash', () => {
    const bomb = ['name: bomb', 'a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((k, n) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[n]}`).join(', ')}]`), 'network: *h', ''].join('\n');
    const e = errorOf(() => parsePolicy(bomb, 'policies/bomb.yaml'));
    assert.equal(e.file, 'policies/bomb.yaml');
    assert.match(e.message, /YAML error: .*alias/i);
  });

  it('a typed YAML value (!!binary, !!timestamp, !!set) is one error at its place, not the methods of a Buffer as unknown keys (a review, session 40); an empty file says what is expected', () => {
    for (const [text, tag, line] of [['name: b\nresources: !!binary aGVsbG8=\n', '!!binary', 2], ['name: t\nnetwork:\n  allow: !!set {a}\n', '!!set', 3], ['name: d\nmode: !!timestamp 2001-12-14\n', '!!timestamp', 2]] as const) {
      const e = errorOf(() => parsePolicy(text, 'policies/typed.yaml'));
      assert.equal(e.issues.length, 1, e.message);
      assert.match(e.message, new RegExp(`policies/typed\\.yaml:${line}:\\d+: a YAML ${tag} value is not a policy value`));
    }
    assert.equal(parsePolicy('name: s\nmode: !!str enforce\n', 'ok.yaml').mode, 'enforce', 'a plain type spelled out is fine');
    assert.match(errorOf(() => parsePolicy('', 'policies/empty.yaml')).message, /the policy is empty; expected a mapping \(key: value\)$/);
  });

  it('bad port in a list: line, column and field path of the element', () => {
    const e = errorOf(() => policy(`name: x
network:
  allow:
    - domain: a.test
    - domain: b.test
      ports: [80, 70000]
`));
    assert.equal(e.file, 'policies/t.yaml');
    assert.equal(e.line, 6);
    assert.equal(e.column, 19);
    assert.equal(e.field, 'network.allow[1].ports[1]');
    assert.match(e.message, /^policies\/t\.yaml:6:19: network\.allow\[1\]\.ports\[1\]: expected port numbers 1-65535/);
  });

  it('unknown keys are errors pointing at the key, with a suggestion', () => {
    const e = errorOf(() => policy('name: x\nnetwork:\n  allow:\n    - domain: a.test\n      prots: [tls]\n'));
    assert.equal(e.line, 5);
    assert.equal(e.column, 7);
    assert.equal(e.field, 'network.allow[0].prots');
    assert.match(e.message, /unknown key 'prots' \(did you mean 'ports'\?\)|did you mean 'protocols'/);
    const top = errorOf(() => policy('name: x\nresourses:\n  cpus: 2\n'));
    assert.equal(top.line, 2);
    assert.equal(top.field, 'resourses');
    assert.match(top.message, /did you mean 'resources'/);
  });

  it('YAML syntax errors map to file:line:col', () => {
    const e = errorOf(() => policy('name: x\nnetwork:\n  allow: [\n    {domain: a.test\n'));
    assert.ok(e.line !== undefined && e.line >= 3, `line ${e.line}`);
    assert.match(e.message, /^policies\/t\.yaml:\d+:\d+: YAML syntax error/);
    // One mistake the YAML parser reports three times at one place is shown once.
    const once = errorOf(() => policy('name: x\nnetwork:\n  allow: [[[\n'));
    assert.equal(once.message.split('\n').filter((l) => l.includes('YAML syntax error')).length, 1, once.message);
    const dup = errorOf(() => policy('name: x\nmode: enforce\nmode: observe\n'));
    assert.equal(dup.line, 3);
    assert.match(dup.message, /unique/);
  });

  it('wrong types, over-broad wildcards, missing target, bad hosts, bad CIDRs', () => {
    const t = errorOf(() => policy('name: x\nresources:\n  pids: lots\n'));
    assert.deepEqual([t.line, t.column, t.field], [3, 9, 'resources.pids']);
    const w = errorOf(() => policy("name: x\nnetwork:\n  allow:\n    - domain: '*.test'\n"));
    assert.deepEqual([w.line, w.field], [4, 'network.allow[0].domain']);
    assert.match(w.message, /over-broad/);
    const m = errorOf(() => policy('name: x\nnetwork:\n  allow:\n    - ports: [443]\n'));
    assert.deepEqual([m.line, m.column, m.field], [4, 7, 'network.allow[0]']);
    assert.match(m.message, /needs a 'domain' or a 'cidr'/);
    const h = errorOf(() => policy('name: x\nnetwork:\n  hosts:\n    a.test: 1.2.3\n'));
    assert.deepEqual([h.line, h.field], [4, 'network.hosts["a.test"]']);
    const c = errorOf(() => policy('name: x\nnetwork:\n  deny:\n    - cidr: 10.0.0.1/8\n'));
    assert.equal(c.field, 'network.deny[0].cidr');
    assert.match(c.message, /host bits are set.*10\.0\.0\.0\/8/);
    const s = errorOf(() => policy('name: x\nnetwork:\n  allow: {domain: a.test}\n'));
    assert.deepEqual([s.line, s.field], [3, 'network.allow']);
    assert.match(s.message, /expected a list, got a mapping/);
    const d = errorOf(() => policy('name: x\nresources:\n  timeout: 10 minutes\n'));
    assert.equal(d.field, 'resources.timeout');
    assert.match(d.message, /expected a duration/);
  });

  it('reports every issue, the first one in file order as primary', () => {
    const e = errorOf(() => policy('name: x\nresources:\n  cpus: -1\n  pids: 0\n'));
    assert.equal(e.line, 3);
    assert.equal(e.issues.length, 2);
    assert.equal(e.issues[1]?.field, 'resources.pids');
  });

  it('observe mode parses but only compiles inside the lab', () => {
    const p = policy('name: obs\nmode: observe\n');
    const e = errorOf(() => compilePolicy(p, { env: {} }));
    assert.equal(e.field, 'mode');
    assert.match(e.message, /CORRAL_LAB=1/);
    // at the line that set it
    assert.deepEqual([e.line, e.column], [2, 7]);
    assert.equal(compilePolicy(p, { ...LAB, labCheck: () => [] }).policy.mode, 'observe');
    // CORRAL_LAB=1 alone is not enough: the namespace must be the lab's (anyone can set a variable).
    const outside = errorOf(() => compilePolicy(p, { ...LAB, labCheck: () => ['this process is in the init/outer network namespace (net:[1])'] }));
    assert.equal(outside.field, 'mode');
    assert.match(outside.message, /init\/outer network namespace/);
    // The real check, from inside the lab the tests run in: accepted.
    assert.equal(compilePolicy(p, LAB).policy.mode, 'observe');
  });
});

describe('decideConnect', () => {
  const c = compilePolicy(policy(`name: t
network:
  allow:
    - domain: registry.test
    - domain: '*.pypi.test'
      ports: [443]
      protocols: [tls]
    - cidr: 203.0.113.20/32
      ports: [443]
      protocols: [tls, http]
    - domain: git.test
      ports: [22]
      protocols: [ssh]
  deny:
    - domain: bad.pypi.test
    - cidr: 198.51.100.66/32
    - domain: '*.pypi.test'
      protocols: [mining]
  hosts:
    registry.test: 198.51.100.10
`), { hostAddresses: ['192.0.2.99', '2001:db8::99'] });

  it('allows a domain via the resolved name', () => {
    const d = c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'REGISTRY.test.' });
    assert.deepEqual([d.verdict, d.rule, d.addressClass], ['allow', 'allow[0]:registry.test', 'public']);
  });

  it('allows a domain via SNI only when the static hosts map binds it to this IP', () => {
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 443, protocol: 'tls', sniHost: 'registry.test' }).rule, 'allow[0]:registry.test');
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 80, protocol: 'http', sniHost: 'registry.test:80' }).verdict, 'allow');
    const forged = c.decideConnect({ ip: '192.0.2.50', port: 443, protocol: 'tls', sniHost: 'registry.test' });
    assert.deepEqual([forged.verdict, forged.rule], ['deny', 'sni-mismatch']);
  });

  it('blocks domain fronting: a sniffed host that differs from the name must itself be allowed', () => {
    const front = c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test', protocol: 'tls', sniHost: 'evil.test' });
    assert.deepEqual([front.verdict, front.rule], ['deny', 'sni-mismatch']);
    assert.match(front.reason, /evil\.test/);
    // Two names under the same allowed wildcard (shared CDN) are fine.
    assert.equal(c.decideConnect({ ip: '192.0.2.7', port: 443, name: 'a.pypi.test', protocol: 'tls', sniHost: 'b.pypi.test' }).verdict, 'allow');
    // An IP literal Host header must be the connected IP.
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 80, name: 'registry.test', protocol: 'http', sniHost: '198.51.100.10' }).verdict, 'allow');
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 80, name: 'registry.test', protocol: 'http', sniHost: '203.0.113.5' }).rule, 'sni-mismatch');
  });

  it('an ambiguous host is refused with what made it so when the sniff says (an HTTP/2 stream it cannot follow), else the Host-header reason', () => {
    const plain = c.decideConnect({ ip: '198.51.100.10', port: 80, name: 'registry.test', protocol: 'http', hostAmbiguous: true });
    assert.deepEqual([plain.verdict, plain.rule], ['deny', 'sni-mismatch']);
    assert.match(plain.reason, /conflicting Host headers/);
    const h2 = c.decideConnect({ ip: '198.51.100.10', port: 80, name: 'registry.test', protocol: 'http', hostAmbiguous: true, ambiguousWhy: 'The cleartext HTTP/2 stream cannot be followed (a client PUSH_PROMISE), so its requests\' hosts cannot be read' });
    assert.deepEqual([h2.verdict, h2.rule], ['deny', 'sni-mismatch']);
    assert.match(h2.reason, /^The cleartext HTTP\/2 stream cannot be followed \(a client PUSH_PROMISE\).*, so no rule can be checked/);
    assert.doesNotMatch(h2.reason, /Host header/);
  });

  it('denies ports not listed and unknown destinations', () => {
    const p = c.decideConnect({ ip: '198.51.100.10', port: 8080, name: 'registry.test' });
    assert.deepEqual([p.verdict, p.rule], ['deny', 'port:8080-not-allowed']);
    assert.match(p.reason, /80, 443/);
    const u = c.decideConnect({ ip: '192.0.2.1', port: 443 });
    assert.deepEqual([u.verdict, u.rule], ['deny', 'default-deny']);
  });

  it('protocols: ssh on 443 to an allowed IP is denied; ssh only where listed', () => {
    assert.equal(c.decideConnect({ ip: '203.0.113.20', port: 443 }).verdict, 'allow'); // not sniffed yet
    const ssh = c.decideConnect({ ip: '203.0.113.20', port: 443, protocol: 'ssh' });
    assert.deepEqual([ssh.verdict, ssh.rule], ['deny', 'protocol:ssh-not-allowed']);
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test', protocol: 'ssh' }).rule, 'protocol:ssh-not-allowed');
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test', protocol: 'other' }).verdict, 'allow');
    assert.equal(c.decideConnect({ ip: '192.0.2.8', port: 22, name: 'git.test', protocol: 'ssh' }).verdict, 'allow');
  });

  it('metadata is denied even when an allowed name resolves there (rebinding)', () => {
    for (const ip of ['169.254.169.254', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '169.254.170.2', '100.100.100.200', '168.63.129.16', 'fd00:ec2::254', 'FD00:EC2:0:0:0:0:0:254', '64:ff9b::a9fe:a9fe',
      // (a red-team review, session 41: 6to4, local-use NAT64 and GCP's IPv6 metadata were public or private)
      '2002:a9fe:a9fe::1', '64:ff9b:1::a9fe:a9fe', 'fd20:ce::254',
      // (session 44: EKS Pod Identity's credential agent, v4 and v6, and Tencent's metadata)
      '169.254.170.23', 'fd00:ec2::23', '169.254.0.23']) {
      const d = c.decideConnect({ ip, port: 443, name: 'registry.test' });
      assert.deepEqual([d.verdict, d.rule, d.addressClass], ['deny', 'always-deny:metadata', 'metadata'], ip);
    }
    const priv = c.decideConnect({ ip: '10.0.0.5', port: 443, name: 'registry.test' });
    assert.deepEqual([priv.rule, priv.addressClass], ['always-deny:private', 'private']);
    assert.equal(c.decideConnect({ ip: '127.0.0.1', port: 443, name: 'registry.test' }).rule, 'always-deny:loopback');
  });

  it('deny beats allow (by name, by wildcard allow, by cidr) and protocol-scoped deny waits for sniffing', () => {
    const d = c.decideConnect({ ip: '192.0.2.7', port: 443, name: 'bad.pypi.test' });
    assert.deepEqual([d.verdict, d.rule], ['deny', 'deny[0]:bad.pypi.test']);
    assert.equal(c.decideConnect({ ip: '198.51.100.66', port: 443, name: 'registry.test' }).rule, 'deny[1]:198.51.100.66/32');
    assert.equal(c.decideConnect({ ip: '192.0.2.7', port: 443, name: 'files.pypi.test' }).verdict, 'allow');
    assert.equal(c.decideConnect({ ip: '192.0.2.7', port: 443, name: 'files.pypi.test', protocol: 'mining' }).rule, 'deny[2]:*.pypi.test');
    // A denied name smuggled in the SNI is denied too.
    assert.equal(c.decideConnect({ ip: '192.0.2.7', port: 443, name: 'files.pypi.test', protocol: 'tls', sniHost: 'bad.pypi.test' }).rule, 'deny[0]:bad.pypi.test');
  });

  it("host's own addresses are host_self and denied, v4 and v6", () => {
    for (const ip of ['192.0.2.99', '2001:db8::99', '2001:0db8:0:0::0099']) {
      const d = c.decideConnect({ ip, port: 443, name: 'registry.test' });
      assert.deepEqual([d.rule, d.addressClass], ['always-deny:host_self', 'host_self'], ip);
    }
  });

  it('invalid input fails closed', () => {
    assert.equal(c.decideConnect({ ip: '010.0.0.1', port: 443, name: 'registry.test' }).rule, 'invalid-address');
    assert.equal(c.decideConnect({ ip: 'registry.test', port: 443 }).rule, 'invalid-address');
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 70000, name: 'registry.test' }).rule, 'invalid-port');
  });
});

describe('explicit cidr overrides of always-denied ranges', () => {
  const c = compilePolicy(policy(`name: o
network:
  allow:
    - cidr: 0.0.0.0/0
      ports: [443]
    - cidr: 10.0.0.0/8
      ports: [5432]
    - cidr: 169.254.0.0/16
      ports: any
    - cidr: fd00::/8
      ports: any
    - cidr: 192.0.2.99/32
      ports: [8080]
`), { hostAddresses: ['192.0.2.99', '10.9.9.9'] });

  it('a covering rule inside the class opens it, with its own ports', () => {
    assert.equal(c.decideConnect({ ip: '10.1.2.3', port: 5432 }).rule, 'allow[1]:10.0.0.0/8');
    assert.equal(c.decideConnect({ ip: '10.1.2.3', port: 443 }).rule, 'port:443-not-allowed');
    assert.equal(c.decideConnect({ ip: '169.254.1.1', port: 80 }).verdict, 'allow');
    assert.equal(c.decideConnect({ ip: 'fd12::1', port: 80 }).verdict, 'allow');
  });

  it('0.0.0.0/0 means the public internet, never internal ranges', () => {
    assert.equal(c.decideConnect({ ip: '198.51.100.1', port: 443 }).rule, 'allow[0]:0.0.0.0/0');
    assert.equal(c.decideConnect({ ip: '192.168.1.1', port: 443 }).rule, 'always-deny:private');
    assert.equal(c.decideConnect({ ip: '100.64.0.1', port: 443 }).rule, 'always-deny:cgnat');
  });

  it('metadata and host addresses need a single-address rule naming them', () => {
    assert.equal(c.decideConnect({ ip: '169.254.169.254', port: 80 }).rule, 'always-deny:metadata');
    assert.equal(c.decideConnect({ ip: 'fd00:ec2::254', port: 80 }).rule, 'always-deny:metadata');
    assert.equal(c.decideConnect({ ip: '10.9.9.9', port: 5432 }).rule, 'always-deny:host_self');
    assert.equal(c.decideConnect({ ip: '192.0.2.99', port: 8080 }).rule, 'allow[4]:192.0.2.99/32');
    const m = compilePolicy(policy('name: m\nnetwork:\n  allow:\n    - cidr: 169.254.169.254/32\n      ports: [80]\n'));
    assert.equal(m.decideConnect({ ip: '169.254.169.254', port: 80 }).verdict, 'allow');
  });

  it('IPv6 cidr rules match numerically', () => {
    const v6 = compilePolicy(policy("name: v\nnetwork:\n  allow:\n    - cidr: '2001:db8::/32'\n"));
    assert.equal(v6.decideConnect({ ip: '2001:db8:ffff::5', port: 443 }).verdict, 'allow');
    assert.equal(v6.decideConnect({ ip: '[2001:DB8::5]', port: 80 }).verdict, 'allow');
    assert.equal(v6.decideConnect({ ip: '2001:db9::1', port: 443 }).rule, 'default-deny');
  });
});

describe('classifyAddress', () => {
  const cases: Array<[string, string]> = [
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['172.32.0.1', 'public'],
    ['192.168.0.1', 'private'], ['100.64.0.1', 'cgnat'], ['100.127.255.255', 'cgnat'], ['100.128.0.1', 'public'],
    ['169.254.1.1', 'link_local'], ['169.254.169.254', 'metadata'], ['127.0.0.53', 'loopback'], ['0.0.0.0', 'reserved'],
    ['224.0.0.251', 'multicast'], ['255.255.255.255', 'multicast'], ['240.0.0.1', 'reserved'], ['198.51.100.10', 'public'],
    ['::1', 'loopback'], ['::', 'reserved'], ['fe80::1', 'link_local'], ['fe80::1%eth0', 'link_local'], ['febf::1', 'link_local'],
    ['fc00::1', 'private'], ['fdff::1', 'private'], ['ff02::1', 'multicast'], ['2001:db8::1', 'public'],
    ['::ffff:10.0.0.1', 'private'], ['::ffff:7f00:1', 'loopback'], ['::127.0.0.1', 'loopback'], ['64:ff9b::10.0.0.1', 'private'],
    ['fd00:ec2::254', 'metadata'], ['2002:0a00:0005::1', 'private'], ['2002:cb00:7108::1', 'public'], ['64:ff9b:1::10.0.0.1', 'private'],
    ['64:ff9b:1::203.0.113.8', 'public'], ['2002:7f00:0001::', 'loopback'], ['not-an-ip', 'reserved'], ['1.2.3', 'reserved'], ['1:2:3:4:5:6:7:8:9', 'reserved'],
  ];
  for (const [ip, cls] of cases) {
    it(`${ip} -> ${cls}`, () => assert.equal(classifyAddress(ip), cls));
  }
  it('host_self from the given set', () => {
    assert.equal(classifyAddress('198.51.100.5', new Set(['198.51.100.5'])), 'host_self');
    assert.equal(classifyAddress('2001:db8::5', new Set(['2001:DB8:0::5'])), 'host_self');
    assert.equal(classifyAddress('198.51.100.6', new Set(['198.51.100.5'])), 'public');
  });
});

describe('wildcards', () => {
  const c = compilePolicy(policy("name: w\nnetwork:\n  allow:\n    - domain: '*.pypi.test'\n  resolvers: ['198.51.100.53']\n"));
  it('match subdomains at any depth, not the apex or look-alikes', () => {
    const ok = (name: string) => c.decideConnect({ ip: '192.0.2.1', port: 443, name }).verdict;
    assert.equal(ok('files.pypi.test'), 'allow');
    assert.equal(ok('a.b.PYPI.test.'), 'allow');
    assert.equal(ok('pypi.test'), 'deny');
    assert.equal(ok('evilpypi.test'), 'deny');
    assert.equal(ok('pypi.test.evil.test'), 'deny');
  });
  it('over-broad or malformed patterns are rejected', () => {
    for (const d of ['*', '*.com', '*.test', '*.co.uk', 'foo.*.test', '*foo.test', '**.a.test', 'a..test', '198.51.100.1']) {
      const e = errorOf(() => policy(`name: w\nnetwork:\n  allow:\n    - domain: '${d}'\n`));
      assert.equal(e.field, 'network.allow[0].domain', d);
    }
  });
});

describe('decideDns', () => {
  const c = compilePolicy(policy(`name: d
network:
  allow:
    - domain: '*.pypi.test'
    - domain: metadata.google.internal
  deny:
    - domain: bad.pypi.test
    - domain: slow.pypi.test
      ports: [80]
  hosts:
    registry.test: 198.51.100.10
  resolvers: ['198.51.100.53']
`));
  it('hosts entries answer statically, allowed names go upstream, others are refused', () => {
    assert.deepEqual(c.decideDns('Registry.Test.'), { verdict: 'allow', rule: 'hosts:registry.test', reason: c.decideDns('registry.test').reason, staticAddress: '198.51.100.10' });
    const up = c.decideDns('files.pypi.test');
    assert.deepEqual([up.verdict, up.rule, up.staticAddress], ['allow', 'allow[0]:*.pypi.test', undefined]);
    assert.equal(c.decideDns('pypi.test').rule, 'default-deny');
    assert.equal(c.decideDns('pool.minexmr.test').verdict, 'deny');
  });
  it('deny rules and metadata names are refused, even if allowed', () => {
    assert.equal(c.decideDns('bad.pypi.test').rule, 'deny[0]:bad.pypi.test');
    assert.equal(c.decideDns('slow.pypi.test').verdict, 'allow'); // port-scoped deny acts per connection
    for (const n of ['metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.internal', 'metadata.c.proj.internal']) {
      assert.equal(c.decideDns(n).rule, 'always-deny:metadata', n);
    }
    assert.equal(c.decideDns('169.254.169.254').rule, 'invalid-name');
  });
});

describe('withExtraAllows', () => {
  const base = loadPreset('default');
  it('adds domains, wildcards, IPs and CIDRs with optional ports', () => {
    const p = withExtraAllows(base, ['extra.test', 'api.test:8443', '*.x.test', '198.51.100.7', '198.51.100.0/24:443', '[2001:db8::1]:443', '2001:db8::/48']);
    assert.deepEqual(p.network.allow.map((r) => [r.domain ?? r.cidr, r.ports]), [
      ['extra.test', [80, 443]], ['api.test', [8443]], ['*.x.test', [80, 443]], ['198.51.100.7/32', [80, 443]],
      ['198.51.100.0/24', [443]], ['2001:db8::1/128', [443]], ['2001:db8::/48', [80, 443]],
    ]);
    assert.deepEqual(base.network.allow, [], 'the input policy is not mutated');
    const c = compilePolicy(p);
    assert.equal(c.decideConnect({ ip: '192.0.2.1', port: 8443, name: 'api.test' }).rule, 'allow[1]:api.test');
    assert.equal(c.decideConnect({ ip: '192.0.2.1', port: 443, name: 'api.test' }).rule, 'port:443-not-allowed');
    assert.equal(c.decideConnect({ ip: '198.51.100.200', port: 443 }).rule, 'allow[4]:198.51.100.0/24');
    assert.equal(c.decideConnect({ ip: '2001:db8::1', port: 443 }).verdict, 'allow');
  });
  it('rejects what a policy file would reject', () => {
    const e = errorOf(() => withExtraAllows(base, ['ok.test', '*']));
    assert.equal(e.file, '--allow');
    assert.match(e.message, /--allow "\*".*every domain/);
    assert.match(errorOf(() => withExtraAllows(base, ['a.test:99999'])).message, /1-65535/);
    assert.match(errorOf(() => withExtraAllows(base, ['10.0.0.1/8'])).message, /host bits/);
  });
  it('never opens the host itself, its loopback, link-local or metadata from the command line; internal and public hosts are fine', () => {
    const host = ['192.0.2.253', '2001:db8::fe'];
    for (const [spec, why] of [['192.0.2.253:8081', /this host's own address/], ['[2001:db8::fe]:22', /this host's own address/], ['127.0.0.1', /loopback/],
      ['127.0.0.0/8', /loopback/], ['::1', /loopback/], ['169.254.169.254', /cloud metadata/], ['fd00:ec2::254', /cloud metadata/],
      ['169.254.0.0/16', /link-local/], ['fe80::1', /link-local/], ['100.100.100.200', /cloud metadata/]] as const) {
      const e = errorOf(() => withExtraAllows(base, ['ok.test', spec], host));
      assert.equal(e.file, '--allow', spec);
      assert.match(e.message, why, spec);
      assert.match(e.message, /policy file under network\.allow/, spec);
    }
    const p = withExtraAllows(base, ['10.0.0.5:3128', '203.0.113.7', '0.0.0.0/0', 'registry.test', '192.0.2.0/24'], host);
    assert.equal(p.network.allow.length, 5);
    // (a /24 around the host's address does not open the host itself: compile still denies it)
    assert.equal(compilePolicy(p, { hostAddresses: host }).decideConnect({ ip: '192.0.2.253', port: 443 }).verdict, 'deny');
  });
  it("Corral's sandbox subnet is the host's: no --allow inside it, and no rule around it opens it", () => {
    assert.equal(leaseSubnet(), '10.231.0.0/16', 'the default lease range (16384 leases of 4 addresses)');
    assert.equal(leaseSubnet({ dir: '/x', base: '10.9.128.0', size: 64 }), '10.9.128.0/24');
    assert.equal(leaseSubnet({ dir: '/x', base: '10.9.0.252', size: 2 }), '10.9.0.0/23', 'an unaligned base is covered whole');
    for (const spec of ['10.231.0.0/16:2222', '10.231.7.1', '10.231.0.0/24']) {
      assert.match(errorOf(() => withExtraAllows(base, [spec], [])).message, /this host's own address/, spec);
    }
    // The host-side veth addresses appear as sandboxes start (also other Corral processes'): the
    // whole range is host_self, so a policy file's 10.0.0.0/8 opens internal hosts, never them.
    const c = compilePolicy(policy('name: internal\nnetwork:\n  allow:\n    - cidr: 10.0.0.0/8\n      ports: any\n'), { hostRanges: ['10.231.0.0/16'] });
    assert.deepEqual([c.decideConnect({ ip: '10.231.4.1', port: 2222 }).rule, c.decideConnect({ ip: '10.231.4.1', port: 2222 }).addressClass], ['always-deny:host_self', 'host_self']);
    assert.equal(c.decideConnect({ ip: '10.5.0.1', port: 2222 }).verdict, 'allow');
    assert.equal(classifyAddress('10.231.200.9', undefined, hostRangeList(['10.231.0.0/16'])), 'host_self');
    assert.equal(classifyAddress('10.232.0.1', undefined, hostRangeList(['10.231.0.0/16'])), 'private');
  });
});

describe('performance', () => {
  it('decideConnect micro-benchmark', () => {
    const rules = Array.from({ length: 40 }, (_, i) => `    - domain: 'h${i}.bench.test'\n`).join('');
    const c = compilePolicy(policy(`name: b\nnetwork:\n  allow:\n${rules}    - domain: '*.cdn.bench.test'\n    - cidr: 203.0.113.0/24\n      ports: any\n  deny:\n    - domain: bad.cdn.bench.test\n`));
    const ctxs = [
      { ip: '198.51.100.10', port: 443, name: 'h17.bench.test', protocol: 'tls' as const, sniHost: 'h17.bench.test' },
      { ip: '198.51.100.11', port: 443, name: 'a.b.cdn.bench.test' },
      { ip: '203.0.113.9', port: 8443, protocol: 'http' as const },
      { ip: '169.254.169.254', port: 80, name: 'h1.bench.test' },
      { ip: '2001:db8::1', port: 443, name: 'nope.test' },
    ];
    const N = 200_000;
    for (let i = 0; i < 20_000; i++) c.decideConnect(ctxs[i % ctxs.length] as (typeof ctxs)[number]); // warm-up
    let allows = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) if (c.decideConnect(ctxs[i % ctxs.length] as (typeof ctxs)[number]).verdict === 'allow') allows++;
    const ns = Number(process.hrtime.bigint() - t0);
    const perCall = ns / N;
    console.log(`# decideConnect: ${Math.round(N / (ns / 1e9)).toLocaleString('en-US')} decisions/sec (${(perCall / 1000).toFixed(2)} µs each)`);
    assert.equal(allows, (N / 5) * 3);
    assert.ok(perCall < 20_000, `decideConnect too slow: ${perCall} ns`);
  });
});

describe('network.deny_tls (TLS client fingerprints)', () => {
  const JA4 = 't13d1516h2_8daaf6152771_e5627efa2ab1';
  const JA3 = '98487aa16281980e7d1120d399efb6a4';
  const c = compilePolicy(policy(`name: t
network:
  allow:
    - domain: registry.test
      ports: [443]
      protocols: [tls]
  deny_tls:
    - ${JA4.toUpperCase()}
    - '${JA3}'
`));

  it('refuses a listed client wherever it connects (JA4 or JA3), with a reason naming the fingerprint; others are unaffected', () => {
    const d = c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test', protocol: 'tls', sniHost: 'registry.test', tls: { ja4: JA4, ja3: 'ffffffffffffffffffffffffffffffff' } });
    assert.deepEqual([d.verdict, d.rule], ['deny', `deny-tls:${JA4}`]);
    assert.match(d.reason ?? '', /fingerprint t13d1516h2_8daaf6152771_e5627efa2ab1/);
    const by3 = c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test', protocol: 'tls', sniHost: 'registry.test', tls: { ja4: 't13d0101h2_000000000000_000000000000', ja3: JA3 } });
    assert.deepEqual([by3.verdict, by3.rule], ['deny', `deny-tls:${JA3}`]);
    const other = c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test', protocol: 'tls', sniHost: 'registry.test', tls: { ja4: 't13d0101h2_000000000000_000000000000', ja3: 'ffffffffffffffffffffffffffffffff' } });
    assert.equal(other.verdict, 'allow');
    assert.equal(c.decideConnect({ ip: '198.51.100.10', port: 443, name: 'registry.test' }).verdict, 'allow', 'before sniffing: no fingerprint yet');
  });

  it('a child policy adds fingerprints to its parent\'s (never drops them); bad entries name their line and index', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-pol-'));
    try {
      writeFileSync(join(dir, 'base.yaml'), `name: base\nnetwork:\n  deny_tls: ['${JA3}']\n`);
      writeFileSync(join(dir, 'child.yaml'), `name: child\nextends: ./base.yaml\nnetwork:\n  deny_tls: ['${JA4}']\n`);
      assert.deepEqual(loadPolicyFile(join(dir, 'child.yaml')).network.deny_tls, [JA3, JA4]);
    } finally { rmSync(dir, { recursive: true, force: true }); }
    const e = errorOf(() => policy(`name: x\nnetwork:\n  deny_tls:\n    - ${JA4}\n    - chrome\n`));
    assert.equal(e.line, 5);
    assert.equal(e.field, 'network.deny_tls[1]');
    assert.match(e.message, /expected a JA4 fingerprint .* or a JA3 hash/);
    assert.deepEqual(policy('name: x\n').network.deny_tls, [], 'default: none');
  });
});

describe('filesystem.mounts (read-only host paths)', () => {
  it('normalises good mounts and refuses writable ones, system targets, duplicates and unknown keys with their line and path', () => {
    assert.deepEqual(policy('name: x\nfilesystem:\n  mounts:\n    - host: /srv/data\n      path: /data//set/\n      mode: ro\n').filesystem.mounts, [{ host: '/srv/data', path: '/data/set' }]);
    assert.deepEqual(policy('name: x\n').filesystem.mounts, []);
    const rw = errorOf(() => policy('name: x\nfilesystem:\n  mounts:\n    - host: /srv/data\n      path: /data\n      mode: rw\n'));
    assert.equal(rw.field, 'filesystem.mounts[0].mode');
    assert.equal(rw.line, 6);
    assert.match(rw.message, /mounts are read-only/);
    for (const [path, want] of [['/etc/x', /cover the sandbox's own \/etc/], ['/workspace/d', /cover the sandbox's own \/workspace/], ['/', /absolute path inside the sandbox/], ['data', /absolute path inside the sandbox/], ['/data/../etc', /absolute path inside the sandbox/]] as const) {
      const e = errorOf(() => policy(`name: x\nfilesystem:\n  mounts:\n    - host: /srv/data\n      path: ${path}\n`));
      assert.equal(e.field, 'filesystem.mounts[0].path', path);
      assert.match(e.message, want, path);
    }
    assert.match(errorOf(() => policy('name: x\nfilesystem:\n  mounts:\n    - { host: /a/b, path: /d }\n    - { host: /a/c, path: /d/ }\n')).message, /'\/d' is mounted twice/);
    assert.equal(errorOf(() => policy('name: x\nfilesystem:\n  mounts:\n    - { host: /a/b, path: /d, writable: true }\n')).field, 'filesystem.mounts[0].writable');
    assert.equal(errorOf(() => policy('name: x\nfilesystem:\n  mounts:\n    - { host: relative/dir, path: /d }\n')).field, 'filesystem.mounts[0].host');
  });
});

describe('library entry', () => {
  it('exports every function docs/policy.md documents for programmatic use', async () => {
    const docs = readFileSync(join(process.cwd(), 'docs', 'policy.md'), 'utf8');
    const api = docs.slice(docs.indexOf('## API'));
    const block = api.slice(api.indexOf('```ts') + 5, api.indexOf('```', api.indexOf('```ts') + 5));
    const names = [...block.matchAll(/^(?:class )?(?!type\b)([a-z][A-Za-z]+|[A-Z][A-Za-z]+Error)\b/gm)].map((m) => m[1]!).concat(['parseDuration']);
    assert.ok(names.length >= 10, names.join(' '));
    const lib = await import('../src/index.js') as Record<string, unknown>;
    for (const n of names) assert.equal(typeof lib[n], 'function', `corral exports ${n}`);
  });
});

describe('policy digest (session.start)', () => {
  it('names the effective policy: same rules, same digest; a widened policy of the same name differs', () => {
    const a = policyDigest(loadPreset('default'));
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(policyDigest(loadPreset('default')), a);
    const reordered = Object.fromEntries(Object.entries(loadPreset('default')).reverse()) as Policy;
    assert.equal(policyDigest(reordered), a, 'key order does not matter');
    assert.notEqual(policyDigest(withExtraAllows(loadPreset('default'), ['extra.test'], [])), a);
  });
});

it('an HTTP CONNECT is judged by its tunnel\'s port too: CONNECT host:22 through a port-80 rule is refused, host:80 is not', async () => {
  const { parseHttpRequest } = await import('../src/gateway/sniff/index.js');
  const p = compilePolicy(parsePolicy('name: t\nextends: default\nnetwork:\n  hosts:\n    registry.test: 198.51.100.10\n  allow:\n    - domain: registry.test\n      ports: [80]\n', 't.yaml'));
  const judge = (head: string) => {
    const s = parseHttpRequest(Buffer.from(head));
    return p.decideConnect({ ip: '198.51.100.10', port: 80, name: 'registry.test', protocol: 'http', sniHost: s.host, connectPort: s.connectPort });
  };
  const bad = judge('CONNECT registry.test:22 HTTP/1.1\r\nHost: registry.test:22\r\n\r\n');
  assert.equal(bad.verdict, 'deny');
  assert.equal(bad.rule, 'connect-port:22-not-allowed');
  assert.match(bad.reason, /tunnel to port 22/);
  assert.equal(judge('CONNECT registry.test:80 HTTP/1.1\r\nHost: registry.test:80\r\n\r\n').verdict, 'allow');
  assert.equal(judge('GET / HTTP/1.1\r\nHost: registry.test\r\n\r\n').verdict, 'allow');
  // An absolute-form target's explicit port is where a forward proxy goes: judged the same way (a review, session 35)
  for (const [head, port] of [['GET http://registry.test:6379/ HTTP/1.1\r\nHost: registry.test:6379\r\n\r\n', 6379], ['POST http://registry.test:25/ HTTP/1.1\r\nHost: registry.test:25\r\nContent-Length: 0\r\n\r\n', 25]] as const) {
    assert.equal(judge(head).rule, `connect-port:${port}-not-allowed`, head);
  }
  assert.equal(judge('GET http://registry.test/ HTTP/1.1\r\nHost: registry.test\r\n\r\n').verdict, 'allow', 'no port: the proxy\'s own');
  assert.equal(judge('GET http://registry.test:80/ HTTP/1.1\r\nHost: registry.test\r\n\r\n').verdict, 'allow');
  // (a port that is none, which a proxy could wrap to another, is ambiguous: refused)
  const wrap = parseHttpRequest(Buffer.from('GET http://registry.test:65616/ HTTP/1.1\r\nHost: registry.test\r\n\r\n'));
  const d = p.decideConnect({ ip: '198.51.100.10', port: 80, name: 'registry.test', protocol: 'http', sniHost: wrap.host, connectPort: wrap.connectPort, hostAmbiguous: wrap.hostAmbiguous, ambiguousWhy: wrap.ambiguousWhy });
  assert.deepEqual([d.verdict, d.rule], ['deny', 'sni-mismatch']);
  assert.match(d.reason, /names a port that is not one/);
});

it('checkPolicy: a policy from the loaders passes unchanged (presets, extra allows and mounts); a number timeout is milliseconds, a string is read as in a file', () => {
  for (const name of listPresets()) {
    const p = loadPreset(name);
    assert.equal(JSON.stringify(checkPolicy(p)), JSON.stringify(p), name);
  }
  const extra = withExtraMounts(withExtraAllows(loadPreset('default'), ['extra.test', 'api.test:8443', '198.51.100.0/24:443']), [{ host: '/usr/share', path: '/data' }]);
  assert.equal(JSON.stringify(checkPolicy(extra)), JSON.stringify(extra));
  const file = parsePolicy('name: t\nresources:\n  timeout: 3\n', 't.yaml');
  assert.equal(file.resources.timeout, 3000, 'a file\'s bare number is seconds');
  assert.equal(checkPolicy(file).resources.timeout, 3000, 'the object\'s number is milliseconds: not read as seconds again');
  assert.equal(checkPolicy({ ...file, resources: { ...file.resources, timeout: '5s' as unknown as number } }).resources.timeout, 5000);
  assert.throws(() => checkPolicy({ ...file, resources: { ...file.resources, timeout: -1 } }), (e: unknown) => e instanceof PolicyError && /resources\.timeout/.test(e.message));
});
