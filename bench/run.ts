// `npm run bench [-- NAME…]`: runs Corral's benchmarks inside a lab namespace (SAFETY.md).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ALL = ['toolcall-latency', 'run-cli-latency', 'gateway-throughput', 'fleet-throughput', 'sandbox-density'];
const names = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
let worst = 0;
for (const n of names) {
  console.log(`\n=== bench/${n} ===`);
  const r = spawnSync(process.execPath, [join(here, '..', 'src', 'lab', 'lab-exec.js'), '--', process.execPath, join(here, `${n}.js`)], { stdio: 'inherit' });
  worst = Math.max(worst, r.status ?? 1);
}
process.exit(worst);
