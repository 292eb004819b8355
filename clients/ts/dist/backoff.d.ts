export interface BackoffOptions {
    /** Base delay of the first retry, ms. */
    initialDelay: number;
    /** No delay is ever longer than this, ms. */
    maxDelay: number;
    /** 0..1: how far the delay may stray from its exponential base, as a fraction of it. */
    jitter: number;
    /** Source of randomness in [0, 1); injectable for tests. */
    random?: () => number;
}
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
export declare function computeBackoff(attempt: number, options: BackoffOptions): number;
