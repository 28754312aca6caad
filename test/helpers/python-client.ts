// Test helper: runs a Python script that imports clients/python's corral_client against a test
// daemon's socket (standard library only, as a trainer would), and gives back what it printed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export function runPythonClient(script: string, socket: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', script], { env: { ...process.env, CORRAL_SOCKET: socket, PYTHONPATH: join(process.cwd(), 'clients', 'python') } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
