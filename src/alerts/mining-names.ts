// Why: a DNS lookup of a mining pool is often the first visible step of cryptojacking,
// before any Stratum byte is sent. Known pool domains are data (data/mining-pools.txt);
// a name heuristic catches lab names and new pools. Nothing here resolves anything.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const POOL_WORDS = /(^|[.-])(pool|pools|xmr|monero|stratum|mining|miner|minexmr|nicehash|nanopool|2miners|f2pool|hashvault|supportxmr|moneroocean|ethermine|unmineable)([.-]|$)/;

export class MiningNameMatcher {
  private suffixes: string[];
  constructor(list?: string[]) {
    this.suffixes = list ?? loadDefaultList();
  }
  /** The known pool domain (an entry of the list) the name is or falls under, or null. No heuristic. */
  known(name: string): string | null {
    const n = name.toLowerCase().replace(/\.$/, '');
    for (const s of this.suffixes) {
      if (s.startsWith('.') ? n === s.slice(1) || n.endsWith(s) : n === s) return s.replace(/^\./, '');
    }
    return null;
  }

  /** Returns why the name looks like a mining pool, or null. */
  match(name: string): string | null {
    const k = this.known(name);
    if (k !== null) return `known pool domain ${k}`;
    const m = POOL_WORDS.exec(name.toLowerCase().replace(/\.$/, ''));
    return m ? `pool-like name (${m[2]})` : null;
  }
}

function loadDefaultList(): string[] {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  try {
    return readFileSync(join(root, 'data', 'mining-pools.txt'), 'utf8').split('\n')
      .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  } catch { return []; }
}
