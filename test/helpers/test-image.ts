// Test helper: a small image root filesystem built from this host's own binaries (no download, no
// registry): bash, dash and coreutils pieces with their shared libraries (no perl or python: the
// file tools must work without them), a passwd, an
// os-release that names the image, and a /testbed as SWE-style images carry. Stands in for
// `docker export C | tar -x -C DIR` in tests of filesystem.root.
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';

const BINS = ['bash', 'dash', 'cat', 'ls', 'env', 'id', 'stat', 'readlink', 'sleep', 'head', 'touch', 'mkdir', 'rm', 'ln'];

/** Where a host file goes in the image (merged /usr: /lib/… is /usr/lib/…). */
function inImage(root: string, hostPath: string): string {
  return join(root, hostPath.replace(/^\/(lib|lib64|bin|sbin)\//, '/usr/$1/'));
}

/** Builds the image under `root`; `bash: false` leaves bash out (an Alpine-like image runs sh). */
export function buildTestImage(root: string, o: { bash?: boolean; marker?: string } = {}): void {
  for (const d of ['usr/bin', 'usr/lib', 'usr/lib64', 'etc', 'testbed', 'root', 'opt/tool']) mkdirSync(join(root, d), { recursive: true });
  for (const [link, target] of [['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64'], ['sbin', 'usr/bin']]) symlinkSync(target!, join(root, link!));
  const libs = new Set<string>();
  for (const b of BINS) {
    if (b === 'bash' && o.bash === false) continue;
    const host = `/usr/bin/${b}`;
    copyFileSync(host, join(root, 'usr/bin', b));
    for (const line of execFileSync('ldd', [host], { encoding: 'utf8' }).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m) libs.add(m[1]!);
    }
  }
  for (const lib of libs) {
    const to = inImage(root, lib);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(lib, to);
  }
  symlinkSync('dash', join(root, 'usr/bin/sh'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(root, 'etc/os-release'), `ID=${o.marker ?? 'corral-test-image'}\n`);
  writeFileSync(join(root, 'etc/shadow'), 'root:image-secret:19000:0:99999:7:::\n');
  writeFileSync(join(root, 'testbed/README.md'), '# task repository\n');
  writeFileSync(join(root, 'opt/tool/VERSION'), '1.2.3\n');
}
