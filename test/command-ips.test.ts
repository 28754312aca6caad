// Why: proves ipLiterals turns every spelling of an IP literal in a command's arguments into one
// canonical form (so rules compare cmd.ips exactly instead of listing spellings), and does not
// invent addresses from host names, options or numbers that are not hosts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipLiterals } from '../src/detect/command/ips.js';

test('inet_aton spellings of IPv4 (1-4 parts, decimal, octal, hex) become a dotted quad', () => {
  for (const u of ['http://169.254.43518/latest/', 'http://169.16689662/', 'http://0x00a9fea9fe/x', 'http://0251.254.169.254/',
    'http://2852039166/', 'http://0xa9.0xfe.0251.0376:80/', 'https://u:p@169.254.169.254:8443/x?y', '169.254.169.254', 'root@0251.254.169.254', '169.254.169.254:80']) {
    assert.deepEqual(ipLiterals([u]), ['169.254.169.254'], u);
  }
});

test('IPv6 is canonical (RFC 5952) and an IPv4-mapped address also gives its IPv4', () => {
  assert.deepEqual(ipLiterals(['http://[0:0:0:0:0:ffff:a9fe:a9fe]/latest/']), ['::ffff:a9fe:a9fe', '169.254.169.254']);
  assert.deepEqual(ipLiterals(['http://[::ffff:169.254.169.254]/']), ['::ffff:a9fe:a9fe', '169.254.169.254']);
  assert.deepEqual(ipLiterals(['http://[FD00:EC2:0:0:0:0:0:254]/']), ['fd00:ec2::254']);
});

test('names, options and non-host numbers are not addresses', () => {
  assert.deepEqual(ipLiterals(['-s', '--max-time', 'http://example.com/', 'deadbeef', 'README.md', 'http://192.0.2.4.5/', '0xa9fe.0xa9fe']), []);
  assert.deepEqual(ipLiterals(['--url=http://10.0.0.5:8080/x']), ['10.0.0.5']);
});
