// Why: the rebuild lock of `corral events --reindex` must let one rebuild run at a time. It was
// created empty and written after, and a contender that read it in between (or two that found the
// same dead lock) judged it stale and removed it: with six real processes taking the lock in a loop,
// about 4 in 10 acquisitions overlapped another. Two rebuilds at once move the index aside twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const registry = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), '../src/store/writer-registry.js')).href;

// Each process takes the lock, marks 'held' exclusively (EEXIST: someone else holds it too), releases.
const CONTENDER = `import { lockForRebuild } from ${JSON.stringify(registry)};
import { closeSync, openSync, rmSync } from 'node:fs';
const [home, until] = [process.argv[2], Number(process.argv[3])];
let got = 0, overlap = 0;
while (Date.now() < until) {
  let release;
  try { release = lockForRebuild(home); } catch { continue; }
  got++;
  try { closeSync(openSync(home + '/held', 'wx')); } catch { overlap++; release(); continue; }
  const t = Date.now() + 1; while (Date.now() < t) {}
  rmSync(home + '/held'); release();
}
console.log(JSON.stringify({ got, overlap }));`;

test('six processes taking the rebuild lock in a loop never hold it at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-lockrace-'));
  try {
    const script = join(dir, 'contender.mjs');
    writeFileSync(script, CONTENDER);
    const home = join(dir, 'home');
    const until = Date.now() + 2500;
    const runs = await Promise.all(Array.from({ length: 6 }, () => new Promise<{ got: number; overlap: number }>((resolve, reject) => {
      const p = spawn(process.execPath, [script, home, String(until)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d) => { out += String(d); });
      p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { got: number; overlap: number }) : reject(new Error(`contender exited ${code}`))));
    })));
    assert.ok(runs.reduce((n, r) => n + r.got, 0) > 50, JSON.stringify(runs));
    assert.equal(runs.reduce((n, r) => n + r.overlap, 0), 0, `rebuild lock held twice at once: ${JSON.stringify(runs)}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
