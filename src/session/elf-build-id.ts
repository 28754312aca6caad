// Why: a renamed copy of a system program is recognised by its bytes (binary-copies.ts), but a
// whole-file hash is defeated by appending one byte (`cp /bin/bash .kw; echo >> .kw`): the copy still
// runs as bash and no longer hashes as bash. The linker's build-id note (NT_GNU_BUILD_ID) identifies
// the code and survives appended or altered trailing bytes. Threat it stops: T1036.003 padding
// evasion of the copy check. Bypass left: patching the note's bytes themselves (the copy then is
// recognised by nothing but behaviour: the network and resource layers).
import { fstatSync, readSync } from 'node:fs';

const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;
/** Program headers read at most (real binaries have about a dozen). */
const MAX_PHNUM = 64;
/** A note segment larger than this is not read. */
const MAX_NOTE = 4096;

function readAt(fd: number, len: number, pos: number): Buffer | undefined {
  const b = Buffer.alloc(len);
  return readSync(fd, b, 0, len, pos) === len ? b : undefined;
}

/** The GNU build-id of the ELF file open on `fd`, lower-case hex; undefined for anything else. */
export function readBuildId(fd: number): string | undefined {
  try {
    const h = readAt(fd, 64, 0);
    if (!h || h.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const is64 = h[4] === 2, le = h[5] === 1;
    if ((h[4] !== 1 && !is64) || (h[5] !== 1 && h[5] !== 2)) return undefined;
    const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number): number => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const phoff = is64 ? u64(h, 32) : u32(h, 28);
    const phentsize = u16(h, is64 ? 54 : 42);
    const phnum = Math.min(u16(h, is64 ? 56 : 44), MAX_PHNUM);
    if (phentsize < (is64 ? 56 : 32) || !Number.isSafeInteger(phoff)) return undefined;
    const size = fstatSync(fd).size;
    const ph = readAt(fd, phentsize * phnum, phoff);
    if (!ph) return undefined;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (u32(ph, o) !== PT_NOTE) continue;
      const off = is64 ? u64(ph, o + 8) : u32(ph, o + 4);
      const len = is64 ? u64(ph, o + 32) : u32(ph, o + 16);
      if (len > MAX_NOTE || len < 12 || off + len > size) continue;
      const notes = readAt(fd, len, off);
      if (!notes) continue;
      for (let p = 0; p + 12 <= notes.length;) {
        const namesz = u32(notes, p), descsz = u32(notes, p + 4), type = u32(notes, p + 8);
        const name = p + 12, desc = name + ((namesz + 3) & ~3);
        const next = desc + ((descsz + 3) & ~3);
        if (next > notes.length || next <= p) break;
        if (type === NT_GNU_BUILD_ID && namesz === 4 && notes.toString('latin1', name, name + 3) === 'GNU' && descsz >= 8) {
          return notes.toString('hex', desc, desc + descsz);
        }
        p = next;
      }
    }
    return undefined;
  } catch { return undefined; }
}
