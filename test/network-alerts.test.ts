// Why: the gateway's refusals become alerts through alertForConnect, and the category decides
// what a policy's response.kill does. A pool named only in the TLS SNI, the HTTP Host or a
// CONNECT target of a connection to an allowed address (the red team's sni_pool, front_http,
// connect_pool) was filed as a low policy_violation ("sni-mismatch"); it must be mining, critical
// for a known pool domain and high for the pool-like-name heuristic. Pure function, no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertForConnect, alertForDns } from '../src/alerts/network-alerts.js';
import { MiningNameMatcher } from '../src/alerts/mining-names.js';
import { UNREAD_RULE, type ConnectReport } from '../src/gateway/types.js';
import type { Decision } from '../src/policy/index.js';

const pools = new MiningNameMatcher(['.knownxmr.test', '.supportxmr.test', 'pool.exact.test']);
const mismatch: Decision = { verdict: 'deny', rule: 'sni-mismatch', reason: 'The TLS/HTTP host differs from the resolved name.', addressClass: 'public' } as Decision;
const conn = (o: Partial<ConnectReport>): ConnectReport => ({
  kind: 'connect', flowId: 'f1', sport: 40000, dst: { ip: '198.51.100.10', port: 443 }, name: 'registry.test',
  decision: mismatch, observed: false, tsNs: 1n, ...o,
});

test('a known pool in the TLS SNI of a refused connection is mining, critical', () => {
  const d = alertForConnect(conn({ protocol: 'tls', sniHost: 'xmr-eu1.supportxmr.test', detail: 'ClientHello' }), pools)!;
  assert.equal(d.rule, 'gateway.mining');
  assert.equal(d.category, 'mining');
  assert.equal(d.severity, 'critical');
  assert.deepEqual(d.attack, ['T1496', 'T1496.001']);
  assert.match(d.message, /xmr-eu1\.supportxmr\.test named in the TLS SNI of a connection to 198\.51\.100\.10:443 \(registry\.test\) was blocked: known pool domain supportxmr\.test/);
  assert.match(d.reason, /sni-mismatch/);
});

test('a pool-like name in the HTTP Host or a CONNECT target is mining, high (a heuristic)', () => {
  const host = alertForConnect(conn({ dst: { ip: '198.51.100.10', port: 80 }, protocol: 'http', sniHost: 'pool.minexmr.test', detail: 'GET /' }), pools)!;
  assert.equal(host.category, 'mining');
  assert.equal(host.severity, 'high');
  assert.match(host.message, /named in the HTTP Host/);
  assert.match(host.message, /pool-like name/);
  const connect = alertForConnect(conn({ dst: { ip: '198.51.100.10', port: 80 }, protocol: 'http', sniHost: 'pool.minexmr.test', detail: 'CONNECT pool.minexmr.test:3333' }), pools)!;
  assert.equal(connect.category, 'mining');
  assert.match(connect.message, /named in the CONNECT target/);
  // the same via a known list entry that is an exact name
  assert.equal(alertForConnect(conn({ protocol: 'tls', sniHost: 'pool.exact.test' }), pools)!.severity, 'critical');
  // observe mode words it as such
  const seen = alertForConnect(conn({ protocol: 'tls', sniHost: 'pool.exact.test', observed: true }), pools)!;
  assert.match(seen.message, /would have been blocked/);
  assert.match(seen.reason, /^Observe mode: this connection went through and was recorded; under enforce it is refused\. \S/, 'the agent is not told it was refused');
  assert.doesNotMatch(alertForConnect(conn({ protocol: 'tls', sniHost: 'pool.exact.test' }), pools)!.reason, /Observe mode/);
});

test('resolved pool names and mining protocol keep their alert; benign host mismatches stay policy_violation', () => {
  const byName = alertForConnect(conn({ name: 'gulf.knownxmr.test', protocol: 'tls', sniHost: 'gulf.knownxmr.test' }), pools)!;
  assert.equal(byName.severity, 'critical');
  assert.match(byName.message, /Cryptomining traffic to .*: known pool domain knownxmr\.test/);
  const proto = alertForConnect(conn({ protocol: 'mining', detail: 'mining.subscribe' }), pools)!;
  assert.equal(proto.category, 'mining');
  assert.equal(proto.severity, 'critical');
  const benign = alertForConnect(conn({ protocol: 'tls', sniHost: 'cdn.other.test' }), pools)!;
  assert.equal(benign.rule, 'gateway.policy');
  assert.equal(benign.category, 'policy_violation');
  assert.equal(benign.severity, 'low');
  // allowed connections raise nothing here (the rule engine's pool_name_connect sees them)
  assert.equal(alertForConnect(conn({ protocol: 'tls', sniHost: 'x.supportxmr.test', decision: { ...mismatch, verdict: 'allow' } }), pools), null);
  // DNS keeps its own mapping
  assert.equal(alertForDns({ kind: 'dns', sport: 1, name: 'x.supportxmr.test', qtype: 'A', verdict: 'deny', rule: 'default-deny', reason: 'r', answers: [], rcode: 'REFUSED', tsNs: 1n }, pools)!.category, 'mining');
  // a query past the resolver's caps of queries in flight (dns-upstream.ts) is resource abuse, not a policy refusal
  const busy = alertForDns({ kind: 'dns', sport: 1, name: 'q1.cdn.test', qtype: 'A', verdict: 'deny', rule: 'limit:dns', reason: 'Too many DNS queries at once', answers: [], rcode: 'SERVFAIL', tsNs: 1n }, pools)!;
  assert.deepEqual([busy.rule, busy.category, busy.severity], ['dns.query_limit', 'resource_abuse', 'medium']);
});

test('MiningNameMatcher.known answers for list entries only', () => {
  assert.equal(pools.known('A.SupportXMR.test.'), 'supportxmr.test');
  assert.equal(pools.known('pool.minexmr.test'), null);
  assert.equal(pools.match('pool.minexmr.test'), 'pool-like name (pool)');
  assert.equal(pools.match('x.knownxmr.test'), 'known pool domain knownxmr.test');
});

test('an upload cut because the gateway could not read it is defense_evasion, medium, saying why (session 40); observe mode says it would have been cut', () => {
  const unread: Decision = { verdict: 'deny', rule: UNREAD_RULE, reason: "This connection sent data Corral's gateway cannot inspect (HTTP request body in zstd coding); uploads are read in full or not passed.", addressClass: 'public' };
  const d = alertForConnect(conn({ protocol: 'http', decision: unread, dst: { ip: '198.51.100.10', port: 80 } }), pools)!;
  assert.deepEqual([d.rule, d.category, d.severity, d.attack], ['gateway.upload_unread', 'defense_evasion', 'medium', ['T1001', 'T1027']]);
  assert.equal(d.message, "Upload to 198.51.100.10:80 (registry.test) [http] was cut: This connection sent data Corral's gateway cannot inspect (HTTP request body in zstd coding)");
  assert.match(d.reason, /\[corral rule upload-unread\]$/);
  assert.match(alertForConnect(conn({ protocol: 'http', decision: unread, observed: true }), pools)!.message, /would have been cut \(observe mode\)/);
});
