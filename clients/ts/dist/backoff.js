/**
 * Delay before retry number `attempt` (1-based): the base doubles from
 * `initialDelay` up to `maxDelay`, and the delay is drawn uniformly in
 * [base·(1−jitter), min(base·(1+jitter), maxDelay)].
 *
 * Why this shape: when a server restarts, every client loses its connection in
 * the same instant; a jitter around the base (rather than a fixed delay)
 * spreads their returns over a window as wide as the base itself, and keeping the
 * lower bound at base·(1−jitter) rather than 0 keeps the backoff meaningful. At
 * the cap the window is [max·(1−jitter), max], not a pile-up at exactly `maxDelay`.
 */
export function computeBackoff(attempt, options) {
    const { initialDelay, maxDelay } = options;
    const jitter = Math.min(1, Math.max(0, options.jitter));
    const random = options.random ?? Math.random;
    const exponent = Math.max(0, Math.floor(attempt) - 1);
    // Cap the exponent so absurd attempt counts still give a finite base.
    const base = Math.min(maxDelay, initialDelay * Math.pow(2, Math.min(exponent, 52)));
    const lower = base * (1 - jitter);
    const upper = Math.min(maxDelay, base * (1 + jitter));
    return Math.round(lower + random() * (upper - lower));
}
//# sourceMappingURL=backoff.js.map