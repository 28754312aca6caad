// Why: builds Corral's two small native pieces with the machine's gcc and Node's own
// headers (no downloads): the corral-enter launcher, the SO_ORIGINAL_DST addon and the JSON Lines
// scanner of `corral investigate`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'native');
mkdirSync(out, { recursive: true });
const nodeInclude = join(dirname(dirname(process.execPath)), 'include', 'node');

function stale(target, source) {
  return !existsSync(target) || statSync(target).mtimeMs < statSync(source).mtimeMs;
}
const enterSrc = join(root, 'native', 'corral-enter.c');
const enterBin = join(out, 'corral-enter');
if (stale(enterBin, enterSrc)) {
  execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', enterBin, enterSrc], { stdio: 'inherit' });
}
const dstSrc = join(root, 'native', 'original-dst.c');
const dstLib = join(out, 'original-dst.node');
if (stale(dstLib, dstSrc)) {
  execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-pthread', '-DNODE_GYP_MODULE_NAME=original_dst',
    `-I${nodeInclude}`, '-o', dstLib, dstSrc], { stdio: 'inherit' });
}
const jlSrc = join(root, 'native', 'json-lines.c');
const jlLib = join(out, 'json-lines.node');
if (stale(jlLib, jlSrc)) {
  // Optional: without it `corral investigate` parses every line with JSON.parse (same answers,
  // slower; `corral doctor` says so). SSE2 is used where the compiler targets it (x86-64).
  try {
    execFileSync('gcc', ['-O3', '-Wall', '-Werror', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=json_lines',
      `-I${nodeInclude}`, '-o', jlLib, jlSrc, '-lm'], { stdio: 'inherit' });
  } catch (e) {
    process.stderr.write(`warning: the JSON Lines scanner was not built (${e.message.split('\n')[0]}); corral investigate will use JSON.parse\n`);
  }
}
