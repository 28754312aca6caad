// Why: deciding whether the Corral that owns a lease or a cgroup is still running (orphan cleanup).
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
