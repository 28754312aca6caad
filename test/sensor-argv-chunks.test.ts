// Why: an agent's commands are often long (a `python -c` script, a heredoc through `sh -c`), and the
// sensor reads a new program's argv from its memory in fixed 192-byte chunks, the last one ending at
// arg_end (so it may overlap the one before, or start before argv). This proves, through the real
// kernel and bpftrace, that every length around the chunk edges comes back byte for byte — multi-byte
// UTF-8 split across a chunk edge and empty arguments included — and that past the 7 680-byte cap the
// argv is a marked, exact prefix. Runs as root with bpftrace; skips otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ARGV_CHUNK, ARGV_MAX_CHUNKS } from '../src/sensors/bpftrace-program.js';
import { BpftraceSensor, type ExecRecord, type SensorRecord } from '../src/sensors/bpftrace-sensor.js';
import { RecordAssembler } from '../src/sensors/bpftrace-records.js';

const avail = process.getuid?.() === 0 ? BpftraceSensor.available() : { ok: false, why: 'not root' };
const CAP = ARGV_CHUNK * ARGV_MAX_CHUNKS;

test('argv of every length around the chunk edges is read back exactly; past the cap it is a marked prefix', { skip: avail.ok ? false : avail.why }, async () => {
  const s = await BpftraceSensor.start({});
  const seen = new Map<string, ExecRecord>();
  s.on('record', (r: SensorRecord) => { if (r.kind === 'exec' && r.argv[0] === '/bin/true' && r.argv[1]?.startsWith('corral-chunk-')) seen.set(r.argv[1], r); });
  const cases = new Map<string, string[]>();
  try {
    let n = 0;
    const add = (argv: string[]): void => { const mark = `corral-chunk-${process.pid}-${n++}`; cases.set(mark, ['/bin/true', mark, ...argv]); };
    // totals (bytes of argv with their NULs) around every edge that matters
    const head = (mark: string): number => Buffer.byteLength(`/bin/true\0${mark}\0`);
    for (const total of [40, ARGV_CHUNK - 1, ARGV_CHUNK, ARGV_CHUNK + 1, 2 * ARGV_CHUNK - 1, 2 * ARGV_CHUNK, 2 * ARGV_CHUNK + 1, 1000, CAP - 1, CAP, CAP + 1, 9000, 20_000]) {
      const mark = `corral-chunk-${process.pid}-${n}`;
      const len = total - head(mark) - 1;
      add([Array.from({ length: len }, (_, i) => String.fromCharCode(97 + (i % 26))).join('')]);
    }
    // a two-byte character across the first chunk edge, empty arguments, many short ones
    const mark = `corral-chunk-${process.pid}-${n}`;
    add(['x'.repeat(ARGV_CHUNK - head(mark) - 1) + 'é€ü', '', 'tail', '']);
    add(Array.from({ length: 300 }, (_, i) => String(i)));
    for (const argv of cases.values()) await new Promise((r) => spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' }).on('exit', r));
    for (const t0 = Date.now(); seen.size < cases.size && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 50));
    for (const [mark, argv] of cases) {
      const rec = seen.get(mark);
      assert.ok(rec, `${mark} recorded`);
      const total = argv.reduce((sum, a) => sum + Buffer.byteLength(a) + 1, 0);
      if (total <= CAP) {
        assert.deepEqual(rec.argv, argv, `${mark}: total ${total}`);
        assert.equal(rec.truncated, false, mark);
      } else {
        assert.equal(rec.truncated, true, `${mark}: total ${total} is past the cap`);
        const got = Buffer.from(rec.argv.join('\0')), want = Buffer.from(argv.join('\0'));
        assert.equal(got.length, CAP, `${mark}: exactly the cap`);
        assert.ok(want.subarray(0, got.length).equals(got), `${mark}: an exact prefix`);
      }
    }
  } finally { await s.stop(); }
});

test('a chunk lost on the way cuts the argv where the gap starts and marks it truncated; bytes outside argv are dropped', () => {
  // the stack as bpftrace reads it: 200 bytes before argv (pointers), then the argv, then the environment
  const argv = ['/bin/x', 'a'.repeat(300), 'b'.repeat(200)];
  const args = Buffer.from(`${argv.join('\0')}\0`);
  const total = args.length; // 518
  const mem = Buffer.concat([Buffer.alloc(200, 0xee), args, Buffer.alloc(200, 0xdd)]);
  const window = (at: number): string => [...mem.subarray(200 + at, 200 + at + ARGV_CHUNK)].map((x) => `\\\\x${x.toString(16).padStart(2, '0')}`).join('');
  const run = (chunks: number[], totalText = String(total)): ExecRecord | undefined => {
    const out: ExecRecord[] = [];
    const a = new RecordAssembler({ keep: () => true, emit: (r) => { if (r.kind === 'exec') out.push(r); } });
    const L = (d: string): string => `{"type": "printf", "data": "${d}\\n"}`;
    a.line(L('P\\t42\\t7\\t100\\t/bin/x'));
    for (const at of chunks) a.line(L(`C\\t7\\t100\\t${at}\\t${window(at)}`));
    a.line(L(`X\\t42\\t7\\t100\\t7\\t1\\t${totalText}\\t200`));
    a.line(L('A\\t42\\t7\\t100\\t0\\t/bin/x'));
    a.line(L('E\\t42\\t7\\t100\\t7\\t1\\t0\\t/bin/x'));
    return out[0];
  };
  const edges = [0, ARGV_CHUNK, total - ARGV_CHUNK]; // the last chunk ends at arg_end and overlaps the one before
  const all = run(edges)!;
  assert.deepEqual([all.argv, all.truncated], [argv, false]);
  const noMiddle = run([edges[0]!, edges[2]!])!;
  assert.deepEqual([noMiddle.argv, noMiddle.truncated], [['/bin/x', 'a'.repeat(ARGV_CHUNK - 7)], true], 'cut where the gap starts');
  const noFirst = run([edges[1]!, edges[2]!])!;
  assert.deepEqual([noFirst.argv, noFirst.truncated], [[], true]);
  const noLast = run([edges[0]!, edges[1]!])!;
  assert.equal(noLast.truncated, true);
  assert.equal(Buffer.from(noLast.argv.join('\0')).length, 2 * ARGV_CHUNK);
  // a short argv: one chunk that starts before it (negative offset); the pointers before it never show
  const short = Buffer.from('/bin/x\0-v\0');
  const memShort = Buffer.concat([Buffer.alloc(ARGV_CHUNK, 0xee), short, Buffer.alloc(50, 0xdd)]);
  const out: ExecRecord[] = [];
  const a = new RecordAssembler({ keep: () => true, emit: (r) => { if (r.kind === 'exec') out.push(r); } });
  const at = short.length - ARGV_CHUNK;
  const hex = [...memShort.subarray(ARGV_CHUNK + at, ARGV_CHUNK + at + ARGV_CHUNK)].map((x) => `\\\\x${x.toString(16).padStart(2, '0')}`).join('');
  a.line(`{"type": "printf", "data": "P\\t42\\t8\\t101\\t/bin/x\\n"}`);
  a.line(`{"type": "printf", "data": "C\\t8\\t101\\t${at}\\t${hex}\\n"}`);
  a.line(`{"type": "printf", "data": "X\\t42\\t8\\t101\\t8\\t1\\t${short.length}\\t201\\n"}`);
  a.line(`{"type": "printf", "data": "E\\t42\\t8\\t101\\t8\\t1\\t0\\t/bin/x\\n"}`);
  assert.deepEqual([out[0]?.argv, out[0]?.truncated], [['/bin/x', '-v'], false]);
  // a total that is not a number (a damaged line) is no argv, not a crash
  assert.deepEqual(run(edges, 'x9')?.argv, []);
  // the kernel's budget marks: an X line's cut flag (chunks left out), and a failed exec's E line with more = 2
  const budgeted: ExecRecord[] = [];
  const b = new RecordAssembler({ keep: () => true, emit: (r) => { if (r.kind === 'exec') budgeted.push(r); } });
  b.line(`{"type": "printf", "data": "P\\t42\\t9\\t102\\t/bin/x\\n"}`);
  b.line(`{"type": "printf", "data": "C\\t9\\t102\\t0\\t${window(0)}\\n"}`);
  b.line(`{"type": "printf", "data": "I\\t9\\t102\\t7001\\t7002\\n"}`);
  b.line(`{"type": "printf", "data": "X\\t42\\t9\\t102\\t9\\t1\\t${total}\\t202\\t0\\t77\\t5\\t1\\t0\\t0\\t31\\t30\\n"}`);
  b.line(`{"type": "printf", "data": "E\\t42\\t9\\t102\\t9\\t1\\t0\\t/bin/x\\n"}`);
  b.line(`{"type": "printf", "data": "A\\t42\\t10\\t103\\t0\\t/bin/nope\\n"}`);
  b.line(`{"type": "printf", "data": "E\\t42\\t10\\t103\\t10\\t1\\t2\\t/bin/nope\\n"}`);
  b.line(`{"type": "printf", "data": "F\\t42\\t10\\t103\\t-2\\n"}`);
  assert.deepEqual(budgeted.map((r) => [r.result, r.argv.length, r.truncated, r.argvCut]), [['ok', 2, true, true], ['failed', 1, true, true]]);
  assert.deepEqual(budgeted[0]?.grandparents, [31, 30], 'the parents the kernel names above the parent');
  assert.deepEqual([budgeted[0]?.pipeIn, budgeted[0]?.pipeOut], [7001, 7002], 'the I line joins its exec by thread and key');
  assert.equal(budgeted[1]?.pipeIn, undefined);
  assert.equal(run(edges)?.argvCut, undefined, 'an unbudgeted exec has no cut mark');
});
