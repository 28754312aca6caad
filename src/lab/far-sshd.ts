// Why: prepares the real OpenSSH server that plays an "external" SSH host inside the far netns,
// so `ssh -R`/`ssh -D` tunnel attempts in scenarios are real (SAFETY.md rule 4). It accepts
// connections and logs them (LogLevel VERBOSE, counted by far-server) but admits nobody: no
// passwords, no keys, no root. A far host shares the machine's filesystem, so a login here
// would be a way out of a sandbox; refusing every login keeps it only a connection counter.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Writes a host key and sshd_config into dir for the given ip:port listeners; returns the config path. */
export async function prepareSshd(dir: string, listeners: Array<{ ip: string; port: number }>): Promise<string> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation dir
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'corral-lab', '-f', hostKey]);
  const config = [
    ...listeners.map((l) => `ListenAddress ${l.ip}:${l.port}`),
    `HostKey ${hostKey}`,
    'PidFile none',
    'UsePAM no',
    'LogLevel VERBOSE',
    'PermitRootLogin no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes', // offered, but AuthorizedKeysFile none: every key is refused
    'HostbasedAuthentication no',
    'AuthorizedKeysFile none',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'PermitTunnel no',
    'MaxStartups 100:30:200',
    'LoginGraceTime 10',
    '',
  ].join('\n');
  const path = join(dir, 'sshd_config');
  await writeFile(path, config, { mode: 0o600 });
  return path;
}
