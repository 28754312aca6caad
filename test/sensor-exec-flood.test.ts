// Why: an exec flood with long argv from one tool call must not blind the kernel sensor for anyone. Before the
// per-call argv budget (bpftrace-program.ts ARGV_BUDGET) this flood overflowed the shared perf ring (≈ 90,000
// records lost, any sandbox's execs among them); now the flooder's argv is cut short, on record, and nothing is lost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { ARGV_BUDGET } from '../src/sensors/bpftrace-program.js';
import { buildSessionReport } from '../src/report/session-report.js';
import { renderSessionText } from '../src/report/session-text.js';
import { makeStyle } from '../src/cli/style.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labxf'); });
after(async () => { await fx?.close(); });

const ARG = 'x'.repeat(180);
const FLOOD_EXECS = 4000;

test('an exec flood with long argv loses no record: the flooder\'s argv is cut by its budget (on record), its neighbour keeps every exec whole', async () => {
  const lostBefore = fx.rt.sensor!.lost;
  const flooder = await fx.rt.createSession({ policy: labPolicy(), episode: 'flooder' });
  const neighbour = await fx.rt.createSession({ policy: labPolicy(), episode: 'neighbour' });
  try {
    // 100 spawned at once, 40 times over: each exec has 41 args, 7.4 KB of argv (≈ 80 argv lines unbudgeted)
    const flood = `import os, time
L = ["${ARG}"] * 40
t0 = time.time()
for burst in range(${FLOOD_EXECS / 100}):
    pids = [os.posix_spawn("/bin/true", ["/bin/true"] + L, {}) for _ in range(100)]
    for p in pids: os.waitpid(p, 0)
print("spawned", int((time.time() - t0) * 1000))`;
    const tail = 'y'.repeat(1000);
    const quiet = `for i in $(seq 300); do /bin/true neighbour-tag-$i ${tail}; sleep 0.003; done`;
    const [rf, rn] = await Promise.all([
      flooder.exec({ command: flood, tool: 'python', step: 1, toolCallId: 'flood', timeoutMs: 120_000 }),
      neighbour.exec({ command: quiet, step: 1, toolCallId: 'quiet', timeoutMs: 120_000 }),
    ]);
    assert.equal(rf.exitCode, 0, rf.stderr);
    assert.equal(rn.exitCode, 0, rn.stderr);
    const fc = await flooder.close();
    const nc = await neighbour.close();
    assert.equal(fx.rt.sensor!.lost - lostBefore, 0, 'the kernel dropped no sensor record');
    // the neighbour: every exec, each with its whole argv
    const tagged = neighbour.events.filter((e) => e.kind === 'exec' && /^neighbour-tag-/.test(String((e.payload.argv as string[])[1])));
    assert.equal(new Set(tagged.map((e) => (e.payload.argv as string[])[1])).size, 300, 'all 300 neighbour execs captured');
    assert.ok(tagged.every((e) => (e.payload.argv as string[])[2] === tail && e.payload.truncated === false && e.payload.argv_cut === undefined), 'whole argv');
    assert.equal(nc.capture.complete, true, JSON.stringify(nc.capture));
    // the flooder: every exec on record; the first ones whole, the ones past the budget cut short and marked
    const runs = flooder.events.filter((e) => e.kind === 'exec' && (e.payload.argv as string[])[0] === '/bin/true');
    assert.equal(runs.length, FLOOD_EXECS, `${runs.length}/${FLOOD_EXECS} flood execs recorded`);
    const whole = runs.filter((e) => e.payload.argv_cut === undefined);
    const cut = runs.filter((e) => e.payload.argv_cut === true);
    assert.ok(whole.length >= ARGV_BUDGET / 80 && whole.every((e) => (e.payload.argv as string[]).length === 41), `${whole.length} whole`);
    assert.ok(cut.length > FLOOD_EXECS / 2, `${cut.length} cut`);
    for (const e of cut) {
      const argv = e.payload.argv as string[];
      assert.equal(e.payload.truncated, true);
      assert.ok(argv.length >= 1 && argv.length < 41 && argv.slice(1).every((a) => ARG.startsWith(a)), `a prefix: ${argv.map((a) => a.length)}`);
    }
    assert.equal(fc.capture.argv_cut, cut.length);
    assert.equal(fc.capture.complete, false);
    assert.equal(flooder.events.find((e) => e.kind === 'session.end')?.payload.argv_cut, cut.length);
    // the report, rebuilt from the log, says so too
    const report = buildSessionReport(flooder.events);
    assert.deepEqual([report.capture.argv_cut, report.capture.complete], [cut.length, false]);
    assert.match(renderSessionText(report, makeStyle({ isTTY: false } as NodeJS.WriteStream, { NO_COLOR: '1' })), /capture incomplete: [\d,]+ exec\(s\) with argv cut short/);
    assert.equal(buildSessionReport(neighbour.events).capture.argv_cut, undefined);
  } finally { await flooder.close(); await neighbour.close(); }
});
