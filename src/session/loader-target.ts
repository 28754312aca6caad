// Why: the dynamic loader runs any program it is handed (`/lib64/ld-linux-x86-64.so.2 /bin/bash job.sh`):
// the kernel then execs the loader, so the exec record's file, the process's comm and its /proc/PID/exe
// all name ld-linux, not the program that runs. Threat it stops: a shell, netcat or miner started
// through the loader passing every rule that knows programs by name or by path (shell_socket_connect,
// miner_binaries, system_executable) — T1218-style proxy execution through a trusted system binary.
import { basename } from 'node:path';

/** glibc's and musl's loader file names (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld-musl-x86_64.so.1, ld.so). */
const LOADER_NAME = /^(ld-linux[\w.-]*\.so(\.\d+)*|ld-musl-[\w.-]+\.so(\.\d+)*|ld\.so(\.\d+)*|ld64\.so(\.\d+)*)$/;
/** glibc rtld options that take the next argument as their value (rtld.c); the others take none. */
const WITH_VALUE = new Set(['--library-path', '--inhibit-rpath', '--audit', '--preload', '--argv0', '--glibc-hwcaps-prefix', '--glibc-hwcaps-mask']);

/** True when `filename` (or the program it copies, `copyOf`) is the dynamic loader. */
export function isLoader(filename: string | undefined, copyOf?: string): boolean {
  return (filename !== undefined && LOADER_NAME.test(basename(filename))) || (copyOf !== undefined && LOADER_NAME.test(copyOf));
}

/**
 * The program a loader invocation runs: the first argument after the loader's own options, as written
 * (relative to the process's working directory when not absolute); undefined when the loader only
 * lists or verifies (--list, --verify, --help …) or no program follows.
 */
export function loaderTarget(argv: readonly string[]): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1] || undefined;
    if (!a.startsWith('--')) return a || undefined;
    if (WITH_VALUE.has(a)) { i++; continue; }
    if (a.includes('=')) continue;
    if (a === '--list' || a === '--verify' || a === '--help' || a === '--version' || a.startsWith('--list-')) return undefined;
  }
  return undefined;
}
