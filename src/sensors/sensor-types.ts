// Why: the sensor's start was ≈ 1.1 s of bpftrace compiling, most of it clang parsing the C text of
// every kernel type that task_struct and sock reach (bpftrace 0.17 builds it from BTF for any struct
// a program dereferences). This writes, from the kernel's own BTF (kernel-btf.ts), small
// definitions of just the structures and members the sensor program reads — each member at the very
// byte offset the kernel has it (explicit padding between; an offset C's own alignment would move
// is refused, so a packed kernel structure is never misdescribed), each structure its exact size (the program uses
// sizeof(struct pid) and sizeof(struct pt_regs)) — plus macros for the kernel typedefs named by the
// program's tracepoint formats. With them bpftrace compiles the program in ≈ 0.2 s. Any member that
// cannot be described exactly (missing, a bitfield, a kind not handled) throws, and the sensor
// starts the old way, letting bpftrace read BTF itself: slower, never wrong.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BTF_KIND, BtfError, type KernelBtf } from './kernel-btf.js';

/** Structures the program (bpftrace-program.ts) dereferences, and the members it reads. */
export const SENSOR_STRUCTS: Record<string, readonly string[]> = {
  task_struct: ['real_parent', 'group_leader', 'tgid', 'thread_pid', 'nsproxy', 'mm', 'files', 'exit_code', 'stack'],
  nsproxy: ['net_ns'],
  net: ['ns'],
  ns_common: ['inum'],
  mm_struct: ['arg_start', 'arg_end', 'exe_file'],
  files_struct: ['fdt'],
  fdtable: ['fd'],
  file: ['private_data', 'f_inode'],
  inode: ['i_mode', 'i_rdev', 'i_nlink', 'i_ino', 'i_sb'],
  super_block: ['s_dev'],
  socket: ['type', 'sk'],
  sock: ['__sk_common', 'sk_peer_pid'],
  unix_sock: ['peer'],
  sock_common: ['skc_daddr', 'skc_rcv_saddr', 'skc_dport', 'skc_num', 'skc_family', 'skc_net', 'skc_v6_daddr', 'skc_v6_rcv_saddr'],
  in6_addr: ['in6_u'],
  pid: ['level'],
  upid: ['ns'],
  // (x86_64 only: the program reads a refused socket()'s arguments from the saved registers there)
  pt_regs: ['di', 'si'],
  sockaddr: ['sa_family'],
  user_msghdr: ['msg_name'],
  mmsghdr: ['msg_hdr'],
};

/** C keywords and base type words a tracepoint format's field type may hold besides typedef names. */
const C_WORDS = new Set(['const', 'volatile', 'char', 'short', 'int', 'long', 'unsigned', 'signed', 'void', 'struct', 'union', 'enum', '_Bool', '__data_loc', '__rel_loc']);

/** Deepest nesting of types followed (pointers, arrays, anonymous members): a BTF with a cycle gets an error, not a hang. */
const MAX_DEPTH = 32;

class Writer {
  private readonly known: Set<string>;
  constructor(private readonly btf: KernelBtf, private readonly spec: Record<string, readonly string[]>) { this.known = new Set(Object.keys(spec)); }

  /** A C declaration of `decl` with BTF type `id`. */
  decl(id: number, decl: string, depth = 0): string {
    if (depth > MAX_DEPTH) throw new BtfError(`${decl}: types nested deeper than ${MAX_DEPTH} (a cycle?)`);
    const { t } = this.btf.resolve(id);
    switch (t.kind) {
      case 0: return `void ${decl}`;
      case BTF_KIND.INT: return `${this.intType(t.intBits!, !!t.intSigned, !!t.intBool, t.sizeOrType)} ${decl}`;
      case BTF_KIND.ENUM: case BTF_KIND.ENUM64: return `${this.intType(t.sizeOrType * 8, true, false, t.sizeOrType)} ${decl}`;
      case BTF_KIND.PTR: {
        let stars = '*';
        let base = this.btf.resolve(t.sizeOrType);
        while (base.t.kind === BTF_KIND.PTR) {
          if (stars.length > MAX_DEPTH) throw new BtfError(`${decl}: a pointer chain deeper than ${MAX_DEPTH} (a cycle?)`);
          stars += '*';
          base = this.btf.resolve(base.t.sizeOrType);
        }
        const named = (base.t.kind === BTF_KIND.STRUCT || base.t.kind === BTF_KIND.UNION) && this.known.has(base.t.name);
        return `${named ? `${base.t.kind === BTF_KIND.UNION ? 'union' : 'struct'} ${base.t.name}` : 'void'} ${stars}${decl}`;
      }
      case BTF_KIND.ARRAY: return this.decl(t.array!.type, `${decl}[${t.array!.nelems}]`, depth + 1);
      case BTF_KIND.STRUCT: case BTF_KIND.UNION: {
        const word = t.kind === BTF_KIND.UNION ? 'union' : 'struct';
        if (t.name && this.known.has(t.name)) return `${word} ${t.name} ${decl}`;
        if (t.name) return `unsigned char ${decl}[${t.sizeOrType}]`; // a structure the program never looks into
        // an anonymous type (in6_addr's in6_u): written out whole, in place
        return `${word} { ${this.body(t.members!.map((m) => m.name), t.members!, t.sizeOrType, t.kind === BTF_KIND.UNION, word, depth + 1)} } ${decl}`;
      }
      default: throw new BtfError(`${decl}: BTF kind ${t.kind} is not described`);
    }
  }

  /** The alignment C gives the declaration decl() writes (a structure: its widest declared member's; padding is bytes). */
  alignOf(id: number, depth = 0): number {
    if (depth > MAX_DEPTH) throw new BtfError(`type ${id}: nested deeper than ${MAX_DEPTH} (a cycle?)`);
    const { t } = this.btf.resolve(id);
    switch (t.kind) {
      case BTF_KIND.PTR: return 8;
      case BTF_KIND.INT: case BTF_KIND.ENUM: case BTF_KIND.ENUM64: return Math.min(8, t.sizeOrType);
      case BTF_KIND.ARRAY: return this.alignOf(t.array!.type, depth + 1);
      case BTF_KIND.STRUCT: case BTF_KIND.UNION: {
        if (t.name && !this.known.has(t.name)) return 1;
        const names = t.name ? this.spec[t.name] ?? [] : t.members!.map((m) => m.name);
        return Math.max(1, ...names.map((n) => { const m = this.btf.member(id, n); return m ? this.alignOf(m.member.type, depth + 1) : 1; }));
      }
      default: return 1;
    }
  }

  private intType(bits: number, signed: boolean, bool: boolean, size: number): string {
    if (bool) return '_Bool';
    const base = { 8: 'char', 16: 'short', 32: 'int', 64: 'long long' }[bits === size * 8 ? bits : 0];
    if (!base) throw new BtfError(`an integer of ${bits} bits in ${size} bytes is not described`);
    return `${signed ? 'signed' : 'unsigned'} ${base}`;
  }

  /** Members `names` (found through anonymous members too) at their offsets, padded to `size` bytes. */
  body(names: readonly string[], members: { name: string; type: number; bitOffset: number; bitSize: number }[] | number, size: number, union: boolean, what: string, depth = 0): string {
    const found = names.map((name) => {
      const m = typeof members === 'number' ? this.btf.member(members, name) : (() => { const x = members.find((mm) => mm.name === name); return x ? { offset: x.bitOffset / 8, member: x } : undefined; })();
      if (!m) throw new BtfError(`${what} has no member ${name}`);
      if (m.member.bitSize || !Number.isInteger(m.offset)) throw new BtfError(`${what}.${name} is a bitfield`);
      return { name, offset: m.offset, size: this.btf.sizeOf(m.member.type), type: m.member.type };
    }).sort((a, b) => a.offset - b.offset);
    const parts: string[] = [];
    let at = 0;
    for (const [i, f] of found.entries()) {
      const align = this.alignOf(f.type);
      if (f.offset % align) throw new BtfError(`${what}.${f.name} at offset ${f.offset} is not ${align}-byte aligned (a packed structure)`);
      if (union) {
        if (f.offset !== 0) throw new BtfError(`${what}.${f.name}: a union member at offset ${f.offset}`);
      } else {
        if (f.offset < at) throw new BtfError(`${what}.${f.name} overlaps the member before it`);
        if (f.offset > at) parts.push(`unsigned char __corral_pad${i}[${f.offset - at}];`);
        at = f.offset + f.size;
      }
      parts.push(`${this.decl(f.type, f.name, depth)};`);
    }
    const end = union ? Math.max(0, ...found.map((f) => f.size)) : at;
    if (end > size) throw new BtfError(`${what} members end past its size`);
    // C rounds a structure's size up to its widest member's alignment: a packed kernel structure would come out larger
    const align = Math.max(1, ...found.map((f) => this.alignOf(f.type, depth)));
    if (size % align) throw new BtfError(`${what}'s size ${size} is not a multiple of its alignment ${align} (a packed structure)`);
    if (end < size) parts.push(union ? `unsigned char __corral_size[${size}];` : `unsigned char __corral_tail[${size - end}];`);
    return parts.join(' ');
  }
}

/** The definitions of SENSOR_STRUCTS for this kernel, embedded types before their users. */
export function structDefinitions(btf: KernelBtf, spec: Record<string, readonly string[]> = SENSOR_STRUCTS): string {
  const known = new Set(Object.keys(spec));
  const w = new Writer(btf, spec);
  const out: string[] = [];
  const done = new Set<string>();
  const emit = (name: string, path: string[]): void => {
    if (done.has(name)) return;
    if (path.includes(name)) throw new BtfError(`struct ${name} contains itself`);
    const { id, t } = btf.struct(name);
    // embedded known structures first (C needs them complete)
    for (const m of spec[name]!) {
      const f = btf.member(id, m);
      const r = f ? btf.resolve(f.member.type) : undefined;
      let inner = r?.t;
      for (let d = 0; inner?.kind === BTF_KIND.ARRAY; d++) {
        if (d > MAX_DEPTH) throw new BtfError(`struct ${name}.${m}: arrays nested deeper than ${MAX_DEPTH} (a cycle?)`);
        inner = btf.resolve(inner.array!.type).t;
      }
      if (inner && (inner.kind === BTF_KIND.STRUCT || inner.kind === BTF_KIND.UNION) && known.has(inner.name)) emit(inner.name, [...path, name]);
    }
    out.push(`${t.kind === BTF_KIND.UNION ? 'union' : 'struct'} ${name} { ${w.body(spec[name]!, id, t.sizeOrType, t.kind === BTF_KIND.UNION, `struct ${name}`)} };`);
    done.add(name);
  };
  for (const name of Object.keys(spec)) emit(name, []);
  return out.join('\n');
}

/** `#define`s for the kernel typedefs the tracepoints' formats name (bpftrace declares `args` with them). */
export function typedefMacros(btf: KernelBtf, formats: string[]): string {
  // bpftrace itself writes `long` and `unsigned long` fields as s64 and u64 (its format parser's adjust_integer_types)
  const optional = ['s8', 'u8', 's16', 'u16', 's32', 'u32', 's64', 'u64'];
  const names = new Set<string>(optional.filter((n) => btf.typedef(n) !== undefined));
  for (const text of formats) {
    for (const m of text.matchAll(/^\s*field:([^;]*);/gm)) {
      const words = m[1]!.replace(/\[[^\]]*\]/g, ' ').split(/[^A-Za-z0-9_]+/).filter(Boolean);
      words.pop(); // the field's own name
      for (const [i, word] of words.entries()) {
        if (!C_WORDS.has(word) && !/^\d/.test(word) && !['struct', 'union', 'enum'].includes(words[i - 1] ?? '')) names.add(word);
      }
    }
  }
  const w = new Writer(btf, SENSOR_STRUCTS);
  return [...names].sort().map((name) => {
    const id = btf.typedef(name);
    if (id === undefined) throw new BtfError(`tracepoint field type ${name} is not a kernel typedef`);
    const d = w.decl(id, '@');
    if (!/^[^@]+ @$/.test(d) || d.includes('[')) throw new BtfError(`typedef ${name} is not a plain type (${d})`);
    return `#define ${name} ${d.slice(0, -2)}`;
  }).join('\n');
}

/** SENSOR_STRUCTS as the program for `arch` (Node's process.arch) reads them: pt_regs only on x86_64. */
export function sensorStructs(arch: string = process.arch): Record<string, readonly string[]> {
  if (arch === 'x64') return SENSOR_STRUCTS;
  const { pt_regs: _, ...rest } = SENSOR_STRUCTS;
  return rest;
}

/** The C text to put before the sensor program: macros for the format files' typedefs, then the structures. */
export function sensorDefinitions(btf: KernelBtf, tracefsDir: string, tracepoints: Iterable<string>, arch: string = process.arch): string {
  const formats = [...tracepoints].map((tp) => readFileSync(join(tracefsDir, 'events', ...tp.split(':'), 'format'), 'latin1'));
  return `${typedefMacros(btf, formats)}\n${structDefinitions(btf, sensorStructs(arch))}\n`;
}
