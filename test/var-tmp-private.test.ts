// Why: on the host's root a sandbox sees the host's /var read-only, and the host's /var/tmp with it:
// a directory every host user may write (1777). A unix socket a host process listens on there took a
// sandbox's connect() (a way out around the network namespace and the gateway: any host user could
// offer a relay), and every file host users left there was readable. Threat it stops: both; the
// sandbox's /var/tmp is its own tmpfs, as /tmp is (src/sandbox/bwrap-args.ts). A real sandbox, in
// the lab; fails on the code before the fix (the host listener accepts, the host file is read).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { basename, join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
let dir: string;
let srv: Server | undefined;
let accepted = 0;
before(async () => {
  fx = await startFixture([], 'labvtm');
  dir = mkdtempSync('/var/tmp/corral-vartmp-');
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'left.txt'), 'a host user\'s file\n', { mode: 0o644 });
  srv = createServer((c) => { accepted++; c.destroy(); });
  await new Promise<void>((ok) => srv!.listen(join(dir, 'relay.sock'), ok));
  chmodSync(join(dir, 'relay.sock'), 0o666);
});
after(async () => {
  if (srv) await new Promise((ok) => srv!.close(ok));
  await fx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the host\'s /var/tmp is not in a sandbox: a host socket there is not reached, host files there are not read; the sandbox\'s own /var/tmp is writable', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'var-tmp' });
  try {
    const at = `/var/tmp/${basename(dir)}`;
    const r = await s.exec({ step: 1, command: `echo hi | socat - UNIX-CONNECT:${at}/relay.sock 2>/dev/null && echo connected; cat ${at}/left.txt 2>/dev/null; echo mine > /var/tmp/mine && cat /var/tmp/mine; echo end` });
    assert.equal(accepted, 0, 'the host listener in /var/tmp took no connection');
    assert.doesNotMatch(r.stdout, /connected|a host user's file/, r.stdout);
    assert.equal(r.stdout, 'mine\nend\n', r.stderr);
  } finally { await s.close(); }
});
