// Why: the one test command (npm test). Builds, then runs the whole node:test suite inside
// a lab network namespace (SAFETY.md §2): nothing a test does can reach a real network.
// Node's test runner prints the closing "# pass N / # fail N" lines CI reads.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const only = process.argv.slice(2);
const dir = join(root, 'dist', 'test');
const files = (only.length ? only.map((f) => join(dir, f.replace(/\.ts$/, '.js').replace(/^test\//, ''))) :
  readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dir, f)));
const r = spawnSync(process.execPath, [join(root, 'dist', 'src', 'lab', 'lab-exec.js'), '--',
  process.execPath, '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
