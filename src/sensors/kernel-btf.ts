// Why: the sensor needs the layout of a handful of kernel structures (task_struct, sock_common, …) to
// read what an agent's process did. bpftrace 0.17 can look them up in the kernel's BTF itself, but it
// then hands clang the C text of every type those structures reach — most of the kernel — and that
// parse was ≈ 0.7 s of every sensor start. This reads the kernel's BTF (/sys/kernel/btf/vmlinux, the
// same source bpftrace uses) just far enough to answer "at which byte offset is member M of struct S,
// and what is it", so sensor-types.ts can give bpftrace small exact definitions instead.
// Format: the kernel's Documentation/bpf/btf.rst (header, type section, string section).
import { readFileSync } from 'node:fs';

export const BTF_KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19 } as const;

export interface BtfMember { name: string; type: number; bitOffset: number; bitSize: number }
export interface BtfType {
  kind: number;
  name: string;
  /** size in bytes (INT, STRUCT, UNION, ENUM, FLOAT, DATASEC) or the referenced type id (PTR, TYPEDEF, CONST, …) */
  sizeOrType: number;
  /** INT: encoding (bit 0 signed), bit size; ARRAY: element type and count; STRUCT/UNION: members */
  intSigned?: boolean;
  intBool?: boolean;
  intBits?: number;
  array?: { type: number; nelems: number };
  members?: BtfMember[];
}

export class BtfError extends Error {}

/**
 * A BTF blob, indexed in one pass (where each type starts, its kind and name offset); a type's
 * details are decoded when asked for. The kernel's has ≈ 127 000 types and the sensor needs ≈ 30.
 */
export class KernelBtf {
  private readonly starts: Uint32Array;
  private readonly kinds: Uint8Array;
  private readonly nameOffs: Uint32Array;
  private readonly decoded = new Map<number, BtfType>();
  /** Struct, union and typedef ids by name offset (named(): built on the first lookup). */
  private byNameOff?: Map<number, number[]>;
  private nameOffList?: Uint32Array;
  private readonly strOff: number;
  private readonly strLen: number;
  /** Number of types, void (id 0) included. */
  readonly count: number;

  static fromFile(path = '/sys/kernel/btf/vmlinux'): KernelBtf { return new KernelBtf(readFileSync(path)); }

  constructor(private readonly buf: Buffer) {
    if (buf.length < 24 || buf.readUInt16LE(0) !== 0xeb9f) throw new BtfError('not little-endian BTF (magic 0xeb9f)');
    const hdrLen = buf.readUInt32LE(4);
    const typeOff = hdrLen + buf.readUInt32LE(8), typeLen = buf.readUInt32LE(12);
    this.strOff = hdrLen + buf.readUInt32LE(16);
    this.strLen = buf.readUInt32LE(20);
    if (typeOff + typeLen > buf.length || this.strOff + this.strLen > buf.length) throw new BtfError('BTF sections run past the end of the file');
    // one pass: where each type starts, its kind and its name (typed arrays sized for the most types the section can hold)
    const most = Math.floor(typeLen / 12) + 1;
    const starts = new Uint32Array(most), kinds = new Uint8Array(most), names = new Uint32Array(most);
    const u32 = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let n = 1;
    let p = typeOff;
    const end = typeOff + typeLen;
    while (p < end) {
      if (p + 12 > end) throw new BtfError(`type ${n} runs past the type section`);
      const info = u32.getUint32(p + 4, true);
      const kind = (info >>> 24) & 0x1f;
      starts[n] = p;
      kinds[n] = kind;
      names[n] = u32.getUint32(p, true);
      p += 12 + extraBytes(kind, info & 0xffff, n);
      n++;
    }
    if (p !== end) throw new BtfError(`the last type runs past the type section`);
    this.starts = starts.subarray(0, n);
    this.kinds = kinds.subarray(0, n);
    this.nameOffs = names.subarray(0, n);
    this.count = n;
  }

  private str(off: number): string {
    if (off >= this.strLen) throw new BtfError(`string offset ${off} past the string section`);
    const end = this.buf.indexOf(0, this.strOff + off);
    return this.buf.toString('latin1', this.strOff + off, end < 0 ? this.strOff + this.strLen : end);
  }

  /** The ids of the types of one of `kinds` named `name`. */
  private named(name: string, kinds: number[]): number[] {
    if (!this.byNameOff) {
      // struct, union and typedef ids by name offset, built on the first lookup
      this.byNameOff = new Map();
      for (let id = 1; id < this.count; id++) {
        const k = this.kinds[id]!;
        if (k !== BTF_KIND.STRUCT && k !== BTF_KIND.UNION && k !== BTF_KIND.TYPEDEF) continue;
        const ids = this.byNameOff.get(this.nameOffs[id]!);
        if (ids) ids.push(id); else this.byNameOff.set(this.nameOffs[id]!, [id]);
      }
      this.nameOffList = Uint32Array.from(this.byNameOff.keys());
    }
    // the name's bytes and its NUL compared at each of those offsets (first byte first): no string is decoded
    const needle = Buffer.from(`${name}\0`, 'latin1');
    const b = this.buf, base = this.strOff, first = needle[0], offs = this.nameOffList!;
    const out: number[] = [];
    for (let i = 0; i < offs.length; i++) {
      const off = offs[i]!;
      if (b[base + off] !== first || off + needle.length > this.strLen || b.compare(needle, 0, needle.length, base + off, base + off + needle.length) !== 0) continue;
      for (const id of this.byNameOff.get(off)!) if (kinds.includes(this.kinds[id]!)) out.push(id);
    }
    return out.sort((x, y) => x - y);
  }

  type(id: number): BtfType {
    if (!Number.isInteger(id) || id < 1 || id >= this.count) throw new BtfError(`no type ${id}`);
    const hit = this.decoded.get(id);
    if (hit) return hit;
    const b = this.buf, p = this.starts[id]!;
    const info = b.readUInt32LE(p + 4);
    const kind = (info >>> 24) & 0x1f, vlen = info & 0xffff, kflag = (info >>> 31) === 1;
    const t: BtfType = { kind, name: this.nameOffs[id] ? this.str(this.nameOffs[id]!) : '', sizeOrType: b.readUInt32LE(p + 8) };
    const x = p + 12;
    if (kind === BTF_KIND.INT) {
      const e = b.readUInt32LE(x);
      t.intSigned = ((e >>> 24) & 1) === 1; t.intBool = ((e >>> 24) & 4) === 4; t.intBits = e & 0xff;
    } else if (kind === BTF_KIND.ARRAY) {
      t.array = { type: b.readUInt32LE(x), nelems: b.readUInt32LE(x + 8) };
    } else if (kind === BTF_KIND.STRUCT || kind === BTF_KIND.UNION) {
      t.members = [];
      for (let i = 0; i < vlen; i++) {
        const m = x + 12 * i, off = b.readUInt32LE(m + 8), nameOff = b.readUInt32LE(m);
        t.members.push({ name: nameOff ? this.str(nameOff) : '', type: b.readUInt32LE(m + 4), bitOffset: kflag ? off & 0xffffff : off, bitSize: kflag ? off >>> 24 : 0 });
      }
    }
    this.decoded.set(id, t);
    return t;
  }

  /** The struct (or union) of that name that has members (a forward declaration has none). */
  struct(name: string): { id: number; t: BtfType } {
    for (const id of this.named(name, [BTF_KIND.STRUCT, BTF_KIND.UNION])) {
      const t = this.type(id);
      if (t.members) return { id, t };
    }
    throw new BtfError(`no struct ${name} in the kernel's BTF`);
  }

  /** The typedef of that name, if any. */
  typedef(name: string): number | undefined { return this.named(name, [BTF_KIND.TYPEDEF])[0]; }

  /** Follows typedefs and const/volatile/restrict/type tags to the type they qualify. */
  resolve(id: number): { id: number; t: BtfType } {
    for (let i = 0; i < 64; i++) {
      if (id === 0) return { id, t: { kind: 0, name: 'void', sizeOrType: 0 } };
      const t = this.type(id);
      if (t.kind === BTF_KIND.TYPEDEF || t.kind === BTF_KIND.CONST || t.kind === BTF_KIND.VOLATILE || t.kind === BTF_KIND.RESTRICT || t.kind === BTF_KIND.TYPE_TAG) { id = t.sizeOrType; continue; }
      return { id, t };
    }
    throw new BtfError(`type ${id}: qualifier chain too long`);
  }

  /** Size in bytes of a type (after resolve). */
  sizeOf(id: number, depth = 0): number {
    if (depth > 32) throw new BtfError(`type ${id}: arrays nested deeper than 32 (a cycle?)`);
    const { t } = this.resolve(id);
    if (t.kind === BTF_KIND.PTR) return 8;
    if (t.kind === BTF_KIND.ARRAY) return this.sizeOf(t.array!.type, depth + 1) * t.array!.nelems;
    if (t.kind === BTF_KIND.INT || t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION || t.kind === BTF_KIND.ENUM || t.kind === BTF_KIND.ENUM64 || t.kind === BTF_KIND.FLOAT) return t.sizeOrType;
    throw new BtfError(`type ${id} (kind ${t.kind}) has no size`);
  }

  /**
   * Member `name` of a struct or union, looked for through its anonymous struct and union members
   * (mm_struct's fields sit in one, sock_common's in several), with its byte offset from the start.
   */
  member(structId: number, name: string, depth = 0): { offset: number; member: BtfMember } | undefined {
    if (depth > 32) throw new BtfError(`type ${structId}: anonymous members nested deeper than 32 (a cycle?)`);
    const { t } = this.resolve(structId);
    for (const m of t.members ?? []) {
      if (m.name === name) return { offset: m.bitOffset / 8, member: m };
      if (m.name === '') {
        const inner = this.member(m.type, name, depth + 1);
        if (inner) return { offset: m.bitOffset / 8 + inner.offset, member: inner.member };
      }
    }
    return undefined;
  }
}

/** Bytes after a type's 12-byte common part (Documentation/bpf/btf.rst, "Type encoding"). */
function extraBytes(kind: number, vlen: number, id: number): number {
  switch (kind) {
    case BTF_KIND.INT: case BTF_KIND.VAR: case BTF_KIND.DECL_TAG: return 4;
    case BTF_KIND.ARRAY: return 12;
    case BTF_KIND.STRUCT: case BTF_KIND.UNION: case BTF_KIND.ENUM64: case BTF_KIND.DATASEC: return 12 * vlen;
    case BTF_KIND.ENUM: case BTF_KIND.FUNC_PROTO: return 8 * vlen;
    case BTF_KIND.PTR: case BTF_KIND.FWD: case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST:
    case BTF_KIND.RESTRICT: case BTF_KIND.FUNC: case BTF_KIND.FLOAT: case BTF_KIND.TYPE_TAG: return 0;
    default: throw new BtfError(`type ${id}: unknown kind ${kind}`);
  }
}
