// Why: proves the HTML report of `corral investigate` in a real browser (Debian's chromium,
// driven by playwright-core; no downloaded browsers): it renders offline without a single
// network request, the timeline draws one mark per alert, clicking an incident shows its
// commands, and hostile strings from the logs stay text (no HTML/JS injection).
// Saves docs/investigate-report.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { investigateRecords } from '../src/investigate/investigate.js';
import { renderHtml } from '../src/investigate/report/html.js';
import type { NetRecord, ToolCallSpan } from '../src/investigate/types.js';
import { launchChromium } from './helpers/browser.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const T0 = Date.parse('2025-03-01T10:00:00Z');
const MIN = 60_000;
const HOSTILE = 'echo "</script><script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"';

function fleet(): { records: NetRecord[]; spans: ToolCallSpan[] } {
  const spans: ToolCallSpan[] = [];
  const records: NetRecord[] = [];
  let line = 0;
  const add = (episode: string, ip: string, step: number, atMin: number, durS: number, command: string): void => {
    const start = T0 + atMin * MIN;
    spans.push({ episode, run: 'run-7', step, tool_call_id: `${episode}-c${step}`, tool: 'bash', command, start, end: start + durS * 1000, endKnown: true, host: 'host-001', ips: [ip], file: 'trace.jsonl', line: ++line });
  };
  const alert = (ip: string, atMin: number, dst: string, dport: number, category: string, rule: string, severity = 2): void => {
    records.push({ ts: T0 + atMin * MIN, kind: 'alert', src: ip, dst, dport, proto: 'TCP', severity, rule, category, file: 'eve.json', line: ++line });
  };
  for (let s = 0; s < 40; s++) {
    add('ep-miner', '10.20.1.11', s, s, 20, s === 4 ? 'nohup ./xmrig -o 203.0.113.50:3333 -u wallet >/dev/null 2>&1 &' : s === 9 ? HOSTILE : `python -m pytest -q tests/test_${s}.py`);
    add('ep-scan', '10.20.1.12', s, s + 0.3, 25, s === 12 ? 'for p in 22 80 443; do nc -zv -w1 10.30.0.$p $p; done' : `pip install -q pkg${s}`);
    add('ep-nat-a', '10.20.1.1', s, s + 0.5, 30, s === 20 ? 'curl -s http://169.254.169.254/latest/meta-data/iam/' : 'ls -la');
    add('ep-nat-b', '10.20.1.1', s, s + 0.6, 30, 'make -j2');
  }
  for (let m = 4.2; m < 14; m += 1.7) alert('10.20.1.11', m, '203.0.113.50', 3333, 'mining', 'ET COINMINER Stratum login <pool>', 1);
  for (let i = 0; i < 6; i++) alert('10.20.1.12', 12.35 + i * 0.02, `10.30.0.${i + 2}`, 22, 'internal_probe', 'ET SCAN Nmap SYN');
  alert('10.20.1.1', 20.55, '169.254.169.254', 80, 'metadata_access', 'ET POLICY Cloud Metadata');
  alert('10.20.1.1', 30.7, '203.0.113.12', 22, 'tunnel', 'ET POLICY SSH outbound "quoted" & <b>bold</b>');
  for (let i = 0; i < 30; i++) records.push({ ts: T0 + i * 5000, kind: 'flow', src: `10.20.2.${i}`, dst: '198.51.100.10', dport: 443, file: 'eve.json', line: ++line });
  return { records, spans };
}

test('HTML report renders offline in headless Chromium, draws every alert, shows commands on click, resists injection', { timeout: 120_000 }, async (t) => {

  const result = await investigateRecords(fleet());
  assert.ok(result.incidents.length >= 4, `incidents: ${result.incidents.length}`);
  const expectedMarks = result.incidents.reduce((n, i) => n + i.alertCount, 0);
  const dir = mkdtempSync(join(tmpdir(), 'corral-report-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, renderHtml(result, new Date(T0 + 3_600_000)));
  const url = pathToFileURL(file).href;
  const browser = await launchChromium(t);
  if (!browser) return;
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => { requests.push(r.url()); });
    page.on('pageerror', (e) => { errors.push(String(e)); });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 15_000 });
    assert.deepEqual(errors, [], 'no script errors');

    const marks = await page.locator('#timeline-svg circle.alert-mark').count();
    assert.equal(marks, expectedMarks, 'one mark per alert of every incident');
    assert.equal(await page.getAttribute('#timeline-svg', 'data-marks'), String(expectedMarks));
    assert.equal(await page.locator('tr.incident').count(), result.incidents.length);

    // Click the mining incident: the commands involved appear, the timeline zooms to it.
    const k = result.incidents.findIndex((i) => i.category === 'mining');
    const inc = result.incidents[k]!;
    const want = result.calls[inc.attributed[0]!.call]!.command!;
    assert.match(want, /xmrig/);
    await page.click(`tr.incident[data-incident="${k}"]`);
    const cmds = await page.locator('#commands pre.cmd').allTextContents();
    assert.ok(cmds.includes(want), `commands shown: ${JSON.stringify(cmds)}`);
    assert.equal(await page.locator('#timeline-svg circle.alert-mark.sel').count(), inc.alertCount);
    const range = await page.textContent('#view-range');
    assert.ok(range && range.includes('2025-03-01 10:0'), `zoomed view: ${range}`);
    assert.ok(await page.locator('table.evidence tbody tr').count() >= inc.alertCount);

    // Hostile log content stays text.
    const hostile = result.incidents.findIndex((i) => i.attributed.some((a) => result.calls[a.call]!.command === HOSTILE) || i.calls.some((c) => result.calls[c]!.command === HOSTILE));
    if (hostile >= 0) {
      await page.click(`tr.incident[data-incident="${hostile}"]`);
    }
    await page.hover('#timeline-svg rect.call-bar');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.locator('b').count(), await page.locator('#summary b').count(), 'no <b> from the rule name became markup');
    const ruleText = await page.evaluate(() => document.getElementById('report-data')!.textContent!.includes('\\u003cb\\u003ebold'));
    assert.ok(ruleText, 'rule names are embedded escaped');

    // Zoom controls work and show all marks again.
    await page.click('#zoom-reset');
    assert.equal(await page.locator('#timeline-svg circle.alert-mark').count(), expectedMarks);
    await page.click(`tr.incident[data-incident="${k}"]`);
    await page.evaluate(() => window.scrollTo(0, 0));
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'docs', 'investigate-report.png'), fullPage: false });

    assert.deepEqual(requests.filter((u) => u !== url), [], 'the report makes no network request');
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
