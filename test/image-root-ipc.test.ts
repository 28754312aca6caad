// Why: a read-only image root was bound as it lies on the host, so a unix socket in it that a host
// process listens on took a sandbox's connect() (a way out around the network namespace and the
// gateway), and a fifo in it joined a sandbox to whoever else held it open (another sandbox of the
// same image: a covert channel between rollouts). Threat it stops: both; the image is now this
// session's own read-only overlay (src/sandbox/image-view.ts). Real sandboxes, in the lab. Fails on
// the code before the fix (the host listener accepts, the host reader reads).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { buildTestImage } from './helpers/test-image.js';

let fx: Fixture;
let dir: string;
let img: string;
const servers: Server[] = [];
let accepted = 0;
let fifoFd: number | undefined;

/** Copies a host program and its shared libraries into the image (merged /usr). */
function addProgram(root: string, host: string): void {
  copyFileSync(host, join(root, 'usr/bin', host.split('/').pop()!));
  for (const line of execFileSync('ldd', [host], { encoding: 'utf8' }).split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (!m) continue;
    const to = join(root, m[1]!.replace(/^\/(lib|lib64|bin|sbin)\//, '/usr/$1/'));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(m[1]!, to);
  }
}

before(async () => {
  fx = await startFixture([], 'labipc');
  // (under /var/tmp: every directory above an image must let the sandbox's uid pass)
  dir = mkdtempSync(join('/var/tmp', 'corral-ipc-'));
  chmodSync(dir, 0o755);
  img = join(dir, 'img');
  buildTestImage(img);
  addProgram(img, '/usr/bin/socat');
  writeFileSync(join(img, 'usr/rootonly'), 'root only\n', { mode: 0o600 });
  // a host service listening inside the image, reachable by anyone with the path (mode 0666)
  for (const at of ['etc/sock', 'usr/sock']) {
    const srv = createServer((c) => { accepted++; c.destroy(); });
    await new Promise<void>((ok) => srv.listen(join(img, at), ok));
    chmodSync(join(img, at), 0o666);
    servers.push(srv);
  }
  // a fifo of the image, held open for reading by a host process (or another sandbox)
  execFileSync('mkfifo', ['-m', '666', join(img, 'usr/fifo')]);
  fifoFd = openSync(join(img, 'usr/fifo'), constants.O_RDONLY | constants.O_NONBLOCK);
});
after(async () => {
  if (fifoFd !== undefined) closeSync(fifoFd);
  for (const s of servers) await new Promise((ok) => s.close(ok));
  await fx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a read-only image\'s unix sockets and fifos are the session\'s own: no host listener is reached, no host reader hears it; files read as before', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'image-ipc', root: img });
  try {
    const r = await s.exec({ step: 1, command: [
      'for p in /etc/sock /usr/sock; do socat -u OPEN:/etc/os-release UNIX-CONNECT:$p 2>/dev/null && echo "connected $p"; done',
      'exec 3<>/usr/fifo; echo covert-message >&3; echo wrote',
      'cat /etc/os-release; cat /usr/rootonly 2>&1; cat /etc/shadow; touch /usr/new 2>&1; echo end',
    ].join('\n') });
    assert.doesNotMatch(r.stdout, /connected/, r.stdout + r.stderr);
    assert.equal(accepted, 0, 'no host listener in the image took a connection');
    const buf = Buffer.alloc(64);
    let n = 0;
    try { n = readSync(fifoFd!, buf, 0, buf.length, null); } catch (e) { assert.equal((e as NodeJS.ErrnoException).code, 'EAGAIN'); }
    assert.equal(buf.subarray(0, n).toString(), '', 'the host reader of the image\'s fifo heard nothing');
    // (the image itself reads as before: its files, their owners' modes, read-only, hidden paths hidden)
    assert.match(r.stdout, /wrote\n/);
    assert.match(r.stdout, /ID=corral-test-image/);
    assert.match(r.stdout, /\/usr\/rootonly: Permission denied/);
    assert.doesNotMatch(r.stdout, /image-secret/);
    assert.match(r.stdout, /\/usr\/new.*Read-only file system/);
    assert.match(r.stdout, /end\n$/);
  } finally { await s.close(); }
});
