// Why: the scorer keeps only each alert's best links as they arrive (best-links.ts); if the bounded
// heap kept the wrong ones, lost a merged call's better timing, or miscounted the sum, alerts on a
// shared NAT address would name the wrong calls or the wrong probabilities. These tests compare it
// with keeping every link and sorting them, on seeded random streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertLinks, type Link } from '../src/investigate/analysis/best-links.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

test('the heap keeps exactly the best links of a full stable sort, with the same count, sum and first keys, across merges of a call\'s second key', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed);
    const cap = 1 + Math.floor(r() * 8);
    const al = new AlertLinks(cap);
    const all: Link[] = [];
    const n = Math.floor(r() * 40);
    for (let c = 0; c < n; c++) {
      // Few distinct scores, so ties are common and their arrival order decides.
      const score = Math.floor(r() * 4) / 2;
      const via = r() < 0.5 ? 'ip:10.0.0.5' : 'host:h1';
      const link = { c, timing: 'after' as const, offsetMs: 5, via, score, ruleMatch: 'none' as const };
      al.add(link);
      all.push({ ...link, seq: all.length });
      if (r() < 0.3) {
        // The same call through its other key, closer: inside, a higher score.
        const dup = al.lastOf(c)!;
        assert.ok(dup, 'the last link is the call just added');
        const via2 = via.startsWith('ip:') ? 'host:h1' : 'ip:10.0.0.5';
        const s2 = score + 1 + Math.floor(r() * 2);
        al.update(dup, 'inside', 0, via2, s2);
        Object.assign(all[all.length - 1]!, { timing: 'inside', offsetMs: 0, via: via2, score: s2 });
      }
      assert.equal(al.lastOf(c + 1), undefined);
    }
    const sorted = [...all].sort((x, y) => y.score - x.score);
    const { links, omittedScore } = al.best();
    assert.deepEqual(links.map((l) => l.c), sorted.slice(0, cap).map((l) => l.c), `seed ${seed}`);
    assert.deepEqual(links.map((l) => [l.timing, l.via, l.score]), sorted.slice(0, cap).map((l) => [l.timing, l.via, l.score]));
    assert.equal(al.count, n);
    const total = all.reduce((s, l) => s + l.score, 0);
    assert.ok(Math.abs(al.sum - total) < 1e-9);
    assert.ok(Math.abs(omittedScore - sorted.slice(cap).reduce((s, l) => s + l.score, 0)) < 1e-9);
    if (n > 0) {
      assert.equal(al.firstVia, all[0]!.via);
      assert.equal(al.firstIpVia, all.find((l) => l.via.startsWith('ip:'))?.via);
    }
  }
});
