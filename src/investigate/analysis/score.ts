// Why: turns "these calls overlapped this alert" into ranked, explained probabilities. For each
// candidate (alert, call) pair it computes evidence factors (timing, command naming the
// destination, detection-rule match, a process left running, destination rarity), multiplies
// them into a score, and normalises the scores of one alert together with a "noise" weight
// taken from the enrichment rates, so that p says how likely each call — or none — caused it.
import type { AlertTable, KeyAlerts } from './alert-table.js';
import { lowerBound } from './columns.js';
import { commandPattern, mentionsDestination, type CommandRules, type RuleHit } from './command-evidence.js';
import { computeEnrichment, type EnrichmentResult } from './enrichment.js';
import { AlertLinks, type Link } from './best-links.js';
import { KeyTenancy } from './key-tenancy.js';
import { episodeKey } from './episode-key.js';
import { flowKey, sensorKey } from './same-connection.js';
import type { MergedLinkState } from './linker.js';
import type { AlertOut, CallRef, LinkEvidence, Timing } from './model.js';

/**
 * Most candidate calls listed per alert (the best by p): thousands of calls on one shared NAT
 * address in the window would otherwise make every alert carry thousands, and the result, the
 * JSON and the incident EM grow with alerts × calls. The rest are summed up in AlertOut.omitted
 * (their share of p stated) and count as noise in the incident EM.
 */
export const MAX_CANDIDATES_PER_ALERT = 50;

export interface ScoreOptions { skewMs: number; lagMs: number; graceMs: number; gapMs: number; rules?: CommandRules }

/**
 * The factors, named so the docs and the evidence table can explain them. A score is a
 * likelihood ratio against the noise odds of the enrichment: timing sets the base (1 for a
 * plain call the alert fell inside); command evidence multiplies it by how much likelier that
 * evidence is for a call that caused the alert than for one that merely ran at the time
 * (commands naming 169.254.169.254 or matching a mining rule are rare among innocent calls).
 */
export const FACTORS = {
  inside: 1, skew: 0.7,
  /** After the call: base weight for a call that left a process running, else for one that did not. */
  afterDetached: 0.5, afterPlain: 0.08,
  mentionAddress: 30, mentionPort: 5, ruleCategory: 30, ruleOther: 3,
} as const;

export interface Scored {
  alerts: AlertOut[];
  calls: CallRef[];
  enrichment: EnrichmentResult;
  unlinked: number[];
}

/** Category of an alert: the log's own, else one derived from the destination's address class. */
export function alertKind(table: AlertTable, i: number): { category: string; kind: string } {
  const cat = table.strings.get(table.category.data[i]!);
  const cls = table.dstClass(i);
  const port = table.dport.data[i]!;
  const derived = cls === 'metadata' ? 'metadata_access' : cls === 'private' || cls === 'cgnat' || cls === 'link_local' || cls === 'host_self' ? 'internal_probe' : 'policy_violation';
  const category = cat ?? derived;
  return { category, kind: cat ? category : `${category}${cls === 'public' && port >= 0 ? `:${port}` : ''}` };
}

export function linkAndScore(table: AlertTable, state: MergedLinkState, opts: ScoreOptions): Scored {
  const byIp = table.alertsByIp(), byHost = table.alertsByHost();
  const keyAlerts = new Map<string, KeyAlerts>();
  const lookup = (key: string): KeyAlerts | undefined => {
    let ka = keyAlerts.get(key);
    if (!ka) { ka = key.startsWith('ip:') ? byIp.get(key.slice(3)) : byHost.get(key.slice(5)); if (ka) keyAlerts.set(key, ka); }
    return ka;
  };
  const eps = state.table;
  const epOf = eps.indexOf(new Set(state.candidates.map((c) => episodeKey(c.span.run, c.span.episode))));
  const tenancy = new KeyTenancy(eps);

  // The calls that explain something, materialised with their command evidence when first linked.
  const callIndex = new Map<number, number>();
  const calls: CallRef[] = [];
  const ruleCache = new Map<string, RuleHit[]>();
  const callOf = (c: number): number => {
    let at = callIndex.get(c);
    if (at !== undefined) return at;
    const cand = state.candidates[c]!;
    const s = cand.span;
    let rules: RuleHit[] = [];
    if (opts.rules && s.command) {
      const ck = `${s.tool ?? ''}\u0000${s.command}`;
      rules = ruleCache.get(ck) ?? safeRules(opts.rules, s.command, s.tool);
      ruleCache.set(ck, rules);
    }
    at = calls.length;
    calls.push({
      n: cand.n, tool_call_id: s.tool_call_id, episode: s.episode, run: s.run, step: s.step, tool: s.tool, command: s.command,
      start: s.start, end: s.end, endKnown: s.endKnown, host: s.host, sandbox: s.sandbox, file: s.file, line: s.line,
      pattern: commandPattern(s.command), detached: cand.detached, rules,
    });
    callIndex.set(c, at);
    return at;
  };
  // What scoring needs of an alert, read once.
  const info: ({ dst: string; dport?: number; category: string; rarity: number } | undefined)[] = new Array(table.size);
  const infoOf = (a: number): NonNullable<typeof info[number]> => {
    let x = info[a];
    if (!x) {
      const dport = table.dport.data[a]!;
      x = { dst: table.strings.get(table.dst.data[a]!) ?? '', dport: dport >= 0 ? dport : undefined, category: alertKind(table, a).category, rarity: table.rarity(table.dst.data[a]!) };
      info[a] = x;
    }
    return x;
  };

  // 1. Exact windows (the lag now capped at the episode's end), each link scored as it is found:
  // an alert keeps its best MAX_CANDIDATES_PER_ALERT links, the count and the sum of all (best-links.ts).
  const links = new Map<number, AlertLinks>();
  // An alert whose source IP some call ran under is linked by IP only: its sensor/host name
  // would add every other sandbox of that host as a bystander candidate.
  const agentIps = new Set(state.exposure.filter((x) => x.key.startsWith('ip:')).map((x) => x.key.slice(3)));
  const ipKnown = (a: number): boolean => agentIps.has(table.strings.get(table.src.data[a]!) ?? '');
  const inside = new Uint8Array(table.size);
  const { skewMs, lagMs, graceMs } = opts;
  state.candidates.forEach((cand, c) => {
    const s = cand.span;
    const ep = epOf.get(episodeKey(s.run, s.episode));
    const lastCallEnd = ep !== undefined ? eps.end[ep]! : s.end;
    let call: CallRef | undefined;
    for (const k of cand.keys) {
      const ka = lookup(k.key);
      if (!ka) continue;
      // The sandbox outlives the episode's last call (a final model turn, grading): a placement
      // that binds the address until `to` says how long; without one, the address is this
      // episode's alone until another episode uses it (key-tenancy.ts), or no later than the
      // last call when another ran under it at the same time (NAT). Only a call that left a
      // process running is linked that late (the grace check below).
      const bound = Number.isFinite(k.to) ? Math.max(lastCallEnd, k.to)
        : cand.detached && ep !== undefined ? Math.max(lastCallEnd, tenancy.soleUntil(k.key, ep, eps.start[ep]!, lastCallEnd)) : lastCallEnd;
      const lagEnd = Math.max(s.end, Math.min(s.end + lagMs, bound));
      const lo = Math.max(s.start, k.from) - skewMs;
      const hi = Math.min(lagEnd, k.to) + skewMs;
      const viaHost = k.key.startsWith('host:');
      for (let j = lowerBound(ka.ts, lo); j < ka.ts.length && ka.ts[j]! <= hi; j++) {
        const a = ka.idx[j]!, t = ka.ts[j]!;
        if (viaHost && ipKnown(a)) continue;
        let timing: Timing, offsetMs = 0;
        if (t >= s.start && t <= s.end) timing = 'inside';
        else if (t < s.start) { timing = 'skew'; offsetMs = t - s.start; }
        else if (t <= s.end + skewMs) { timing = 'skew'; offsetMs = t - s.end; }
        else {
          timing = 'after'; offsetMs = t - s.end;
          if (!cand.detached && s.endKnown && offsetMs > graceMs + skewMs) continue;
        }
        if (timing !== 'after') inside[a] = 1;
        call ??= calls[callOf(c)]!;
        let al = links.get(a);
        if (!al) { al = new AlertLinks(MAX_CANDIDATES_PER_ALERT); links.set(a, al); }
        // The same call reached through two keys (IP and host) counts once, with its closest timing.
        // (calls are visited one after the other: a link of this call can only be the alert's last)
        const dup = al.lastOf(c);
        if (dup) {
          if (rankTiming(timing) < rankTiming(dup.timing)) al.update(dup, timing, offsetMs, k.key, linkScore(call, timing, offsetMs, lagMs, dup.mention, dup.ruleMatch, infoOf(a).rarity));
        } else {
          const x = infoOf(a);
          const mention = mentionsDestination(call.command, x.dst, x.dport);
          const ruleMatch = call.rules.length === 0 ? 'none' : call.rules.some((r) => r.category === x.category) ? 'category' : 'other';
          al.add({ c, timing, offsetMs, via: k.key, mention, ruleMatch, score: linkScore(call, timing, offsetMs, lagMs, mention, ruleMatch, x.rarity) });
        }
        // Evidence (step 3): a link counts unless it came after a call that left nothing running.
        const last = al.lastOf(c)!;
        if (!al.evidence && (last.timing !== 'after' || call.detached) && (last.mention !== undefined || last.ruleMatch === 'category')) al.evidence = true;
      }
    }
  });

  // 2. The enrichment test (step 3) needs every key's inside/outside counts.
  for (const x of state.exposure) lookup(x.key);

  // 3. Evidence before the enrichment. An alert outside every call is "explained" (not background noise) only when a call that
  // left a process running also names its destination or matches a rule of its category.
  // An alert inside a call is "evidenced" when a call it fell in shows such evidence, or a call
  // that left a process running does (a miner's beacon during some other call).
  const explained = new Uint8Array(table.size);
  const evidenced = new Uint8Array(table.size);
  for (const [a, al] of links) if (al.evidence) { if (inside[a]) evidenced[a] = 1; else explained[a] = 1; }
  const enrichment = computeEnrichment(keyAlerts, state, inside, evidenced, explained, skewMs, (a) => table.dst.data[a]!,
    (a) => ({ flow: flowKey(table.src.data[a]!, table.dst.data[a]!, table.dport.data[a]!), sensor: sensorKey(table.file.data[a]!, table.rule.data[a]!) }), opts.gapMs);

  // 4. Normalise per alert, against the noise weight of its key.
  const alerts: AlertOut[] = [];
  const unlinked: number[] = [];
  for (let a = 0; a < table.size; a++) {
    const al = links.get(a);
    if (!al) { unlinked.push(a); continue; }
    const rec = table.record(a);
    const { category, kind } = alertKind(table, a);
    const key = al.firstIpVia ?? al.firstVia;
    const noise = enrichment.noiseWeight(table.dst.data[a]!, key, rec.ts);
    const total = al.sum + noise;
    const { links: best, omittedScore } = al.best();
    const ev: LinkEvidence[] = best.map((l) => ({ call: callIndex.get(l.c)!, timing: l.timing, offsetMs: l.offsetMs, mention: l.mention, ruleMatch: l.ruleMatch, via: l.via, score: l.score, p: l.score / total }));
    const out: AlertOut = {
      i: alerts.length, ts: rec.ts, src: rec.src, dst: rec.dst, dport: rec.dport, proto: rec.proto, category, kind,
      rule: rec.rule, severity: rec.severity, action: rec.action, host: rec.host, file: rec.file, line: rec.line,
      inside: inside[a] === 1, rarity: infoOf(a).rarity, pNoise: noise / total, noiseWeight: noise, candidates: ev,
    };
    if (al.count > ev.length) out.omitted = { candidates: al.count - ev.length, p: omittedScore / total, score: omittedScore };
    alerts.push(out);
  }
  return { alerts, calls, enrichment, unlinked };
}

/** A link's unnormalised score: the timing's base, times the command evidence, times the destination's rarity. */
function linkScore(call: CallRef, timing: Timing, offsetMs: number, lagMs: number, mention: 'address' | 'port' | undefined, ruleMatch: Link['ruleMatch'], rarity: number): number {
  let score = timing === 'inside' ? FACTORS.inside : timing === 'skew' ? FACTORS.skew
    : (call.detached || !call.endKnown ? FACTORS.afterDetached : FACTORS.afterPlain) * (0.5 + 0.5 * Math.exp(-offsetMs / Math.max(60_000, lagMs / 4)));
  if (mention === 'address') score *= FACTORS.mentionAddress; else if (mention === 'port') score *= FACTORS.mentionPort;
  if (ruleMatch === 'category') score *= FACTORS.ruleCategory; else if (ruleMatch === 'other') score *= FACTORS.ruleOther;
  return score * (0.75 + 0.5 * rarity);
}

function rankTiming(t: Timing): number { return t === 'inside' ? 0 : t === 'skew' ? 1 : 2; }

function safeRules(check: CommandRules, command: string, tool?: string): RuleHit[] {
  try { return check(command, tool); } catch { return []; }
}
