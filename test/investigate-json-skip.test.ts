// Why: the OTLP document scanner (inputs/json-scan.ts) walks captured spans in C
// (native/json-skip.c) instead of byte by byte in JavaScript. It must see exactly what the
// JavaScript walk sees — every captured value, its line, every structural problem, the bytes
// read — on valid documents and on damaged ones: quotes, backslashes and brackets inserted or
// removed anywhere, escapes and brackets right at the 1 MiB chunk edges, nesting past the limit.
// The JavaScript walk runs in a child process with the addon switched off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLinesAddon } from '../src/investigate/inputs/json-lines.js';
import { scanJson, MAX_DEPTH } from '../src/investigate/inputs/json-scan.js';

const SCAN = new URL('../src/investigate/inputs/json-scan.js', import.meta.url).href;

/** Every handler call of a scan, as text (what the OTLP reader would be told), and its result. */
async function events(path: string): Promise<string> {
  const out: string[] = [];
  const r = await scanJson(path, {
    want: (s) => (s.length === 3 && s[0]!.key === 'resourceSpans' && s[2]!.key === 'resource' ? 'resource'
      : s.length === 6 && s[4]!.key === 'spans' ? 'span' : undefined),
    captured: (tag, bytes, line) => out.push(`cap ${tag} ${line} ${bytes.toString('latin1')}`),
    closed: (s) => out.push(`closed ${s.length} ${s.map((f) => f.key ?? '').join('/')}`),
    problem: (line, error) => out.push(`problem ${line} ${error}`),
  });
  out.push(`result ${JSON.stringify(r)}`);
  return out.join('\n');
}

function jsEvents(paths: string[]): string[] {
  const code = `const { scanJson } = await import(${JSON.stringify(SCAN)});
const all = [];
for (const path of ${JSON.stringify(paths)}) {
  const out = [];
  const r = await scanJson(path, {
    want: (s) => (s.length === 3 && s[0].key === 'resourceSpans' && s[2].key === 'resource' ? 'resource' : s.length === 6 && s[4].key === 'spans' ? 'span' : undefined),
    captured: (tag, bytes, line) => out.push('cap ' + tag + ' ' + line + ' ' + bytes.toString('latin1')),
    closed: (s) => out.push('closed ' + s.length + ' ' + s.map((f) => f.key ?? '').join('/')),
    problem: (line, error) => out.push('problem ' + line + ' ' + error),
  });
  out.push('result ' + JSON.stringify(r));
  all.push(out.join('\\n'));
}
process.stdout.write(JSON.stringify(all));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, CORRAL_NO_NATIVE_SCANNER: '1' }, encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

function span(i: number, cmd: string): string {
  return `{"traceId":"t${i}","spanId":"s${i}","name":"execute_tool bash","startTimeUnixNano":"1714521600${String(i).padStart(9, '0')}","attributes":[{"key":"gen_ai.tool.call.arguments","value":{"stringValue":${JSON.stringify(JSON.stringify({ command: cmd }))}}}]}`;
}
function doc(spans: string[]): string {
  return `{"resourceSpans":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"h1"}}]},"scopeSpans":[{"scope":{"name":"t"},"spans":[\n${spans.join(',\n')}\n]}]}]}\n`;
}

test('the native walk through captured values sees exactly what the JavaScript walk sees, on valid and damaged documents', async (t) => {
  assert.ok((jsonLinesAddon() as { skipValue?: unknown } | undefined)?.skipValue, 'the addon is built (scripts/build-native.mjs)');
  const dir = mkdtempSync(join(tmpdir(), 'corral-json-skip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = doc(Array.from({ length: 40 }, (_, i) => span(i, i % 3 ? 'echo "a\\\\b" {x} [y]' : 'ls')));
  const files: string[] = [];
  const add = (name: string, text: string | Buffer): void => { const p = join(dir, name); writeFileSync(p, text); files.push(p); };
  add('valid.json', base);
  // Every single-byte damage of the structural characters, at seeded positions across the document.
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const marks = ['"', '\\', '{', '}', '[', ']', '\n', ','];
  for (let k = 0; k < 120; k++) {
    const at = rnd(base.length), m = marks[k % marks.length]!;
    add(`ins-${k}.json`, base.slice(0, at) + m + base.slice(at));
    add(`del-${k}.json`, base.slice(0, at) + base.slice(at + 1));
  }
  // Escapes, quotes and brackets right at the 1 MiB chunk edges.
  const big = (tail: string, offset: number): string => {
    // The tail starts `offset` bytes before the end of the first 1 MiB chunk.
    const probe = doc([span(1, 'ls'), '{"spanId":"edge","pad":"\u0000']);
    const prefix = probe.indexOf('\u0000');
    const text = doc([span(1, 'ls'), `{"spanId":"edge","pad":"${'x'.repeat((1 << 20) - offset - prefix)}${tail}`]);
    assert.equal(text.indexOf(tail), (1 << 20) - offset);
    return text;
  };
  for (let off = 0; off < 6; off++) for (const tail of ['\\\\"}', '\\"x"}', '"}{"a":1}]', '"}\n]']) add(`edge-${off}-${tail.length}.json`, big(tail, off));
  // Nesting past the limit inside a captured span, and just at it.
  add('deep.json', doc([span(1, 'ls'), `{"a":${'['.repeat(MAX_DEPTH + 5)}${']'.repeat(MAX_DEPTH + 5)}}`]));
  add('deep-ok.json', doc([`{"a":${'['.repeat(MAX_DEPTH - 8)}${']'.repeat(MAX_DEPTH - 8)}}`]));
  add('truncated.json', base.slice(0, Math.floor(base.length / 2)));
  const js = jsEvents(files);
  let damagedDiffer = 0;
  for (const [i, f] of files.entries()) {
    const native = await events(f);
    assert.equal(native, js[i], `${f.split('/').pop()}: native and JavaScript walks agree`);
    if (i > 0 && native !== js[0]) damagedDiffer++;
  }
  // (the damage is real: most damaged files read differently from the valid one)
  assert.ok(damagedDiffer > 200, `${damagedDiffer} damaged files differ from the valid one`);
  assert.match(await events(join(dir, 'deep.json')), /nested deeper than/);
});
