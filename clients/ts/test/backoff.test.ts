import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeBackoff } from '@vigil/client';

const defaults = { initialDelay: 1000, maxDelay: 30000, jitter: 0.5 };

test('backoff doubles from 1 s and never exceeds 30 s', () => {
  const noJitter = { ...defaults, jitter: 0 };
  const delays = [1, 2, 3, 4, 5, 6, 7, 20, 1000].map((n) => computeBackoff(n, noJitter));
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
});

test('jitter keeps each delay within [base·(1−j), min(base·(1+j), max)]', () => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const base = Math.min(30000, 1000 * 2 ** (attempt - 1));
    const low = computeBackoff(attempt, { ...defaults, random: () => 0 });
    const high = computeBackoff(attempt, { ...defaults, random: () => 0.999999 });
    assert.equal(low, Math.round(base * 0.5), `attempt ${attempt} lower bound`);
    assert.ok(high <= 30000, `attempt ${attempt} never above the cap`);
    assert.equal(high, Math.round(Math.min(30000, base * 1.5)), `attempt ${attempt} upper bound`);
  }
});

test('jitter spreads a thousand clients over the window instead of one instant', () => {
  for (const attempt of [1, 10]) {
    const samples = Array.from({ length: 1000 }, () => computeBackoff(attempt, defaults));
    const lo = Math.min(...samples);
    const hi = Math.max(...samples);
    const window = attempt === 1 ? [500, 1500] : [15000, 30000];
    assert.ok(lo >= window[0] && hi <= window[1], `attempt ${attempt}: ${lo}..${hi} within ${window}`);
    // Ten equal buckets across the window: uniform draws fill every one of them.
    const width = (window[1] - window[0]) / 10;
    const buckets = new Set(samples.map((d) => Math.min(9, Math.floor((d - window[0]) / width))));
    assert.equal(buckets.size, 10, `attempt ${attempt} fills the whole window`);
    assert.ok(new Set(samples).size > 500, 'hardly any two clients pick the same millisecond');
  }
});

test('odd inputs stay sane', () => {
  assert.equal(computeBackoff(0, { ...defaults, jitter: 0 }), 1000, 'attempt 0 behaves like 1');
  assert.equal(computeBackoff(3, { ...defaults, jitter: 5, random: () => 0 }), 0, 'jitter clamps to 1');
  assert.equal(computeBackoff(3, { ...defaults, jitter: -1, random: () => 0.7 }), 4000, 'negative jitter clamps to 0');
  assert.equal(computeBackoff(Number.MAX_SAFE_INTEGER, { ...defaults, jitter: 0 }), 30000);
});
