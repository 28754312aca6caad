// Why: the tests that open Corral's pages (session report, investigate report, dashboards) in
// Debian's headless Chromium launch it one way — no downloaded browser, QUIC and background
// networking off, no Chromium sandbox (CI runs as root) — and skip, naming the package, where it
// is missing. Also starts `corral dashboard` as a child process and reads its tokenised URL.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium, or undefined after t.skip() when the package is missing. */
export async function launchChromium(t: { skip(msg: string): void }): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) { t.skip(`${CHROMIUM} missing (apt-get install -y chromium)`); return undefined; }
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** `corral dashboard ARGS --json` as a child: its URL, its stderr so far, and stop() (SIGTERM; resolves to the exit code). */
export async function startDashboard(args: string[]): Promise<{ url: string; stderr: () => string; stop: () => Promise<number | null> }> {
  const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [main, 'dashboard', ...args, '--json'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr.on('data', (c: Buffer) => { err += c; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const stop = async (): Promise<number | null> => { child.kill('SIGTERM'); return exited; };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => { out += c; const m = /"url":"([^"]+)"/.exec(out); if (m) resolve(m[1]!); });
      setTimeout(() => reject(new Error(`no url: ${out} ${err}`)), 15_000);
    });
    return { url, stderr: () => err, stop };
  } catch (e) { await stop(); throw e; }
}
