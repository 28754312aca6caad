// A usage error about a URL says what is wrong without echoing the URL's secrets. Threat: the
// webhook URL (--alert-webhook / $CORRAL_ALERT_WEBHOOK), the NATS URL (--publish / $CORRAL_PUBLISH)
// and --postgres are often secrets themselves (a Slack-style hook's path, user:password@, token@,
// ?password=); an error that printed them put the secret on a terminal, in a service's journal and
// in CI logs. Each case here carries SECRET where a secret sits and checks it never reaches stderr.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { redactNatsUrl } from '../src/store/nats-options.js';
import { redact } from '../src/store/pg-url.js';
import { urlForError } from '../src/store/url-for-errors.js';
import { MAIN } from './helpers/cli.js';

let dir: string, sock: string;
before(() => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-uer-'));
  sock = join(dir, 'never.sock');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function corral(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

function refusedQuietly(r: { status: number | null; stderr: string }, says: RegExp, what: string): void {
  assert.equal(r.status, 2, `${what}: ${r.stderr}`);
  assert.match(r.stderr, says, what);
  assert.doesNotMatch(r.stderr, /SECRET/, `${what}: the secret is not printed`);
}

test('a bad webhook URL (option or environment) is named, not echoed', () => {
  const serve = ['serve', '--socket', sock, '--no-sensor', '--json'];
  for (const url of ['hooks.slack.test/services/T0/B0/SECRET', 'ftp://hook:SECRET@h.test/SECRET?key=SECRET', 'corral:SECRET@127.0.0.1:8080/hook', 'http://a b/SECRET']) {
    refusedQuietly(corral([...serve, '--alert-webhook', url]), /--alert-webhook: (not a URL|http or https only)/, `--alert-webhook ${url}`);
    refusedQuietly(corral(serve, { CORRAL_ALERT_WEBHOOK: url }), /\$CORRAL_ALERT_WEBHOOK: (not a URL|http or https only)/, `$CORRAL_ALERT_WEBHOOK ${url}`);
  }
  const r = corral([...serve, '--alert-webhook', 'ftp://hook:SECRET@h.test:2121/SECRET']);
  assert.match(r.stderr, /http or https only, got ftp:\/\/\*\*\*@h\.test:2121\/\*\*\*/, 'what is left is enough to see the mistake');
});

test('a bad --publish / $CORRAL_PUBLISH is named, not echoed', () => {
  const serve = ['serve', '--socket', sock, '--no-sensor', '--json'];
  for (const url of ['user:SECRET@127.0.0.1:4222', 'nats://user:SECRET@127.0.0.1:4222/SECRET', 'nats://SECRET@127.0.0.1:4222/?x=SECRET', 'http://u:SECRET@127.0.0.1:4222']) {
    refusedQuietly(corral([...serve, '--publish', url]), /--publish must be nats:\/\/HOST:PORT or tls:\/\/HOST:PORT, got /, `--publish ${url}`);
    refusedQuietly(corral(serve, { CORRAL_PUBLISH: url }), /\$CORRAL_PUBLISH must be nats:\/\/HOST:PORT/, `$CORRAL_PUBLISH ${url}`);
  }
});

test('a bad --postgres / $CORRAL_POSTGRES is named, not echoed', () => {
  for (const url of ['corral:SECRET@127.0.0.1/db', 'mysql://corral:p@SECRET@127.0.0.1/db', 'postgres:SECRET@127.0.0.1/db', 'postgresql://u:SECRET@[bad/db']) {
    refusedQuietly(corral(['collect', '--nats', 'nats://127.0.0.1:1', '--postgres', url]), /--postgres must be a URL postgres:\/\//, `collect --postgres ${url}`);
    refusedQuietly(corral(['collect', '--nats', 'nats://127.0.0.1:1'], { CORRAL_POSTGRES: url }), /\$CORRAL_POSTGRES must be a URL postgres:\/\//, `$CORRAL_POSTGRES ${url}`);
    refusedQuietly(corral(['events', '--postgres', url]), /--postgres must be a URL postgres:\/\//, `events --postgres ${url}`);
  }
});

test('URLs shown in messages keep no secret: no scheme, a password with @', () => {
  assert.equal(urlForError('https://u:SECRET@h.test:8443/services/SECRET?t=SECRET#SECRET'), 'https://***@h.test:8443/***');
  assert.doesNotMatch(urlForError('user:SECRET@h.test:1'), /SECRET|user/);
  assert.equal(redactNatsUrl('user:SECRET@127.0.0.1:4222'), 'user:***@127.0.0.1:4222');
  assert.equal(redactNatsUrl('nats://user:p@SECRET@127.0.0.1:4222'), 'nats://user:***@127.0.0.1:4222');
  assert.equal(redactNatsUrl('nats://127.0.0.1:4222'), 'nats://127.0.0.1:4222');
  assert.equal(redact('postgres://u:p@SECRET@127.0.0.1/db'), 'postgres://u:***@127.0.0.1/db');
});
