// Why: every external command Corral runs (ip, nft, sysctl) goes through here, as an argv
// array with optional stdin, so no shell ever parses a string Corral built.
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | null, readonly stderr: string) {
    super(`${argv.join(' ')} failed (exit ${code}): ${stderr.trim().slice(0, 500)}`);
  }
}

export function execFile(argv: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // (first: a spawn that fails at once, EMFILE say, has no pipes and emits 'error' on the next
    // tick; unheard, that error ended the whole process, a daemon with every session it held)
    child.on('error', (e) => reject(e));
    if (!child.stdout || !child.stderr || !child.stdin) return;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('close', (code) => {
      if (code !== 0 && !opts.allowFail) reject(new CommandError(argv, code, stderr));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => { /* the command exited without reading its stdin */ });
    child.stdin.end(opts.input ?? '');
  });
}
