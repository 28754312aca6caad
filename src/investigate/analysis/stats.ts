// Why: `corral investigate` must turn "the alerts seem to coincide with tool use" into a number.
// This module holds the statistics for that: exact binomial tails (the conditional test that
// compares two Poisson rates), a stratified fleet-wide test, and helpers, all computed in log
// space so that a fleet with millions of alerts neither overflows nor underflows to a silent 0.
// No dependency: the maths is short and unit-tested against exact rational arithmetic.

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error about 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  return LOG_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln C(n, k). */
export function logChoose(n: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  if (k === 0 || k === n) return 0;
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** ln of the binomial probability mass P(X = k), X ~ Bin(n, p). */
export function logBinomPmf(k: number, n: number, p: number): number {
  if (k < 0 || k > n) return -Infinity;
  if (p <= 0) return k === 0 ? 0 : -Infinity;
  if (p >= 1) return k === n ? 0 : -Infinity;
  return logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

/** ln(e^a + e^b) without overflow. */
export function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** ln(1 - e^a) for a ≤ 0, accurate near both ends. */
export function log1mExp(a: number): number {
  if (a >= 0) return -Infinity;
  return a > -Math.LN2 ? Math.log(-Math.expm1(a)) : Math.log1p(-Math.exp(a));
}

/** Sums pmf terms from k in direction dir (+1 up to n, -1 down to 0) in log space, stopping when terms vanish. */
function sumTail(k: number, n: number, p: number, dir: 1 | -1): number {
  let term = logBinomPmf(k, n, p);
  let acc = term;
  const lr = Math.log(p) - Math.log1p(-p);
  for (let i = k; dir > 0 ? i < n : i > 0; i += dir) {
    // pmf(i+1)/pmf(i) = (n-i)/(i+1) · p/(1-p); pmf(i-1)/pmf(i) = i/(n-i+1) · (1-p)/p
    term += dir > 0 ? Math.log((n - i) / (i + 1)) + lr : Math.log(i / (n - i + 1)) - lr;
    const next = logAdd(acc, term);
    if (next - acc < 1e-17 && term < acc - 40) break; // remaining terms decrease geometrically past the mode
    acc = next;
  }
  return acc;
}

/** ln P(X ≥ k) for X ~ Bin(n, p). Sums whichever tail is smaller, so tiny p-values keep full precision. */
export function logBinomUpper(k: number, n: number, p: number): number {
  if (k <= 0) return 0;
  if (k > n) return -Infinity;
  if (p <= 0) return -Infinity;
  if (p >= 1) return 0;
  const mean = n * p;
  if (k > mean) return sumTail(k, n, p, 1);
  return log1mExp(sumTail(k - 1, n, p, -1));
}

/** ln P(X ≤ k) for X ~ Bin(n, p). */
export function logBinomLower(k: number, n: number, p: number): number {
  if (k >= n) return 0;
  if (k < 0) return -Infinity;
  return log1mExp(logBinomUpper(k + 1, n, p));
}

/** ln of the upper normal tail Q(z) = P(Z ≥ z), accurate far into the tail. */
export function logNormalUpper(z: number): number {
  if (z < -8) return log1mExp(logNormalUpper(-z));
  if (z < 6) return Math.log(0.5 * erfc(z / Math.SQRT2));
  // Asymptotic series: Q(z) ≈ φ(z)/z · (1 − 1/z² + 3/z⁴ − 15/z⁶ + 105/z⁸)
  const z2 = z * z;
  const series = 1 - 1 / z2 + 3 / (z2 * z2) - 15 / (z2 * z2 * z2) + 105 / (z2 * z2 * z2 * z2);
  return -0.5 * z2 - LOG_SQRT_2PI - Math.log(z) + Math.log(series);
}

/** Complementary error function: Maclaurin series of erf below 0.5, Lentz continued fraction above (relative error ≈ 1e-15). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 0.5) {
    let sum = x, term = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + …)))))
  const tiny = 1e-300;
  let f = x, c = x, d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d; d = Math.abs(d) < tiny ? tiny : d; d = 1 / d;
    c = x + a / c; c = Math.abs(c) < tiny ? tiny : c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/**
 * Regularized incomplete beta I_x(a, b) = P(Beta(a, b) ≤ x), a, b > 0 (continued fraction,
 * modified Lentz; the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) keeps it in its fast region).
 */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - betaCdf(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x)) / a;
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  d = Math.abs(d) < tiny ? tiny : d; d = 1 / d;
  let f = d;
  for (let m = 1; m < 500; m++) {
    for (const num of [(m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)), (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))]) {
      d = 1 + num * d; d = Math.abs(d) < tiny ? tiny : d; d = 1 / d;
      c = 1 + num / c; c = Math.abs(c) < tiny ? tiny : c;
      f *= c * d;
    }
    if (Math.abs(c * d - 1) < 1e-15) break;
  }
  return Math.min(1, Math.max(0, front * f));
}

/** The q-quantile of Beta(a, b) (bisection on betaCdf; absolute error below 1e-12). */
export function betaQuantile(q: number, a: number, b: number): number {
  let lo = 0, hi = 1;
  for (let i = 0; i < 45; i++) { const m = (lo + hi) / 2; if (betaCdf(m, a, b) < q) lo = m; else hi = m; }
  return (lo + hi) / 2;
}

/** One stratum of the enrichment test: alerts and exposure time on one source (IP or host). */
export interface RateStratum {
  /** Alerts that fell inside tool-call time (widened by the clock skew). */
  inside: number;
  /** All alerts during the observation window (inside + outside). */
  total: number;
  /** Milliseconds of tool-call time (union of the widened windows). */
  insideMs: number;
  /** Milliseconds observed (union of episode windows). */
  observedMs: number;
}

export interface RateTest {
  inside: number; total: number; insideMs: number; observedMs: number;
  /** Alerts per hour during tool calls and outside them. */
  rateInside: number; rateOutside: number;
  /** rateInside / rateOutside (0.5 added to empty cells to keep it finite). */
  rateRatio: number;
  /** Expected inside alerts under H0 (alerts independent of tool use). */
  expectedInside: number;
  /** One-sided p-value for "alerts are more frequent during tool calls"; log10 kept for values below 1e-300. */
  p: number; log10p: number;
  method: string;
}

const HOUR = 3_600_000;

function finish(s: RateStratum, expected: number, logp: number, method: string): RateTest {
  const out = s.observedMs - s.insideMs;
  const rateInside = s.insideMs > 0 ? (s.inside / s.insideMs) * HOUR : 0;
  const rateOutside = out > 0 ? ((s.total - s.inside) / out) * HOUR : 0;
  const rr = s.insideMs > 0 && out > 0 ? ((s.inside + 0.5) / s.insideMs) / ((s.total - s.inside + 0.5) / out) : NaN;
  return { ...s, rateInside, rateOutside, rateRatio: rr, expectedInside: expected, p: Math.exp(logp), log10p: logp / Math.LN10, method };
}

/**
 * Exact conditional test of two Poisson rates: given `total` alerts in `observedMs`, under H0
 * (same rate in and out of tool calls) the inside count is Bin(total, insideMs/observedMs).
 * p = P(X ≥ inside).
 */
export function rateTest(s: RateStratum): RateTest {
  const frac = s.observedMs > 0 ? Math.min(1, Math.max(0, s.insideMs / s.observedMs)) : 0;
  return finish(s, s.total * frac, logBinomUpper(s.inside, s.total, frac), 'exact binomial (conditional Poisson rate test)');
}

/** Exact upper tail of a sum of independent binomials (DP over counts); linear space, so used for small totals only. */
function sumOfBinomialsUpper(strata: { n: number; p: number }[], k: number): number {
  let dist = new Float64Array([1]);
  for (const { n, p } of strata) {
    if (n === 0) continue;
    const pmf = new Float64Array(n + 1);
    for (let i = 0; i <= n; i++) pmf[i] = Math.exp(logBinomPmf(i, n, p));
    const next = new Float64Array(dist.length + n);
    for (let a = 0; a < dist.length; a++) {
      const da = dist[a]!;
      if (da === 0) continue;
      for (let b = 0; b <= n; b++) next[a + b]! += da * pmf[b]!;
    }
    dist = next;
  }
  let tail = 0;
  for (let i = Math.max(0, k); i < dist.length; i++) tail += dist[i]!;
  return Math.min(1, tail);
}

/** Totals up to this size get the exact stratified distribution; larger ones a normal approximation. */
export const EXACT_STRATIFIED_MAX = 3000;

/**
 * Fleet-wide test that respects differences between sources (each has its own alert rate and
 * busy fraction): X = Σ inside_k with inside_k ~ Bin(total_k, p_k) under H0. Exact for small
 * totals, else the score (Cochran–Mantel–Haenszel style) normal approximation with continuity
 * correction, in log space.
 */
export function stratifiedRateTest(strata: RateStratum[]): RateTest {
  const sum: RateStratum = { inside: 0, total: 0, insideMs: 0, observedMs: 0 };
  let mean = 0, variance = 0;
  const bins: { n: number; p: number }[] = [];
  for (const s of strata) {
    if (s.observedMs <= 0) continue;
    const p = Math.min(1, Math.max(0, s.insideMs / s.observedMs));
    sum.inside += s.inside; sum.total += s.total; sum.insideMs += s.insideMs; sum.observedMs += s.observedMs;
    mean += s.total * p; variance += s.total * p * (1 - p);
    bins.push({ n: s.total, p });
  }
  if (sum.total === 0) return finish(sum, 0, 0, 'no alerts');
  if (sum.total <= EXACT_STRATIFIED_MAX) {
    const p = sumOfBinomialsUpper(bins, sum.inside);
    if (p > 1e-290) return finish(sum, mean, Math.log(p), 'exact sum of per-source binomials');
  }
  if (variance <= 0) return finish(sum, mean, sum.inside > mean ? -Infinity : 0, 'degenerate (no variance)');
  const z = (sum.inside - 0.5 - mean) / Math.sqrt(variance);
  return finish(sum, mean, logNormalUpper(z), 'stratified score test (normal approximation)');
}

/** Formats a p-value for people: '3.2e-7', '< 1e-300' never prints as 0. */
export function formatP(t: { p: number; log10p: number }): string {
  if (t.p >= 0.001) return t.p.toFixed(3);
  if (t.p > 0) return t.p.toExponential(1);
  if (Number.isFinite(t.log10p)) return `1e${Math.floor(t.log10p)}`;
  return '< 1e-300';
}
