// What the connection state means to a person: the pill in the top bar, the
// banner when alerts may be missing, and the facts in the side panel. Pure.
import type { AlertClientError, AlertClientState } from '@vigil/client';
import { clockTime, duration, secondsUntil } from './format.js';

export type PillState = 'open' | 'connecting' | 'reconnecting' | 'closed';
export type BannerAction = 'retry' | 'reconnect' | 'sign-in';

export interface StatusView {
  pill: { state: PillState; text: string };
  banner: { title: string; detail: string; action: { kind: BannerAction; label: string } | null } | null;
  facts: { status: string; attempt: string; error: string; errorCode: string; seq: string; token: string };
}

/** What the page remembers beyond the client's state (which forgets the error once connected). */
export interface ConnectionHistory {
  /** Epoch ms the current connection opened, or null when not connected. */
  connectedSince: number | null;
  /** The most recent error, kept after reconnecting, with when it happened. */
  lastProblem: { error: AlertClientError; at: number } | null;
}

export function errorText(error: AlertClientError): string {
  // The client appends the server's close reason to its own words ("server going
  // away: server going away" on a shutdown): say it once.
  const [head, ...rest] = error.message.split(': ');
  const reason = rest.join(': ').trim().toLowerCase();
  const message = reason && head.toLowerCase().includes(reason) ? head : error.message;
  return `${message}${error.closeCode !== undefined ? ` (close ${error.closeCode})` : ''}`;
}

const at = (ms: number) => clockTime(new Date(ms).toISOString());

export function describeStatus(
  state: AlertClientState,
  nowMs: number,
  tokenExp: number | null,
  history: ConnectionHistory,
): StatusView {
  const countdown = state.nextRetryAt !== null ? secondsUntil(state.nextRetryAt, nowMs) : null;
  const tokenExpired = tokenExp !== null && tokenExp * 1000 <= nowMs;
  const error = state.lastError;
  const currentError = error ? errorText(error) : '';

  let pill: StatusView['pill'];
  switch (state.status) {
    case 'open':
      pill = { state: 'open', text: 'Connected' };
      break;
    case 'connecting':
      pill = { state: 'connecting', text: 'Connecting…' };
      break;
    case 'reconnecting':
      pill = {
        state: 'reconnecting',
        text: countdown !== null ? `Reconnecting in ${countdown} s` : 'Reconnecting…',
      };
      break;
    default:
      pill = { state: 'closed', text: 'Disconnected' };
  }

  let banner: StatusView['banner'] = null;
  if (tokenExpired && state.status !== 'open') {
    banner = {
      title: 'Your token has expired.',
      detail: 'Open a fresh dashboard link, or sign in again with a new token.',
      action: { kind: 'sign-in', label: 'Sign in' },
    };
  } else if (state.stale && error?.code === 'replaced') {
    banner = {
      title: 'Opened elsewhere.',
      detail: 'Another tab or device signed in as the same user now receives the alerts (one live connection per user).',
      action: { kind: 'reconnect', label: 'Use this tab' },
    };
  } else if (state.stale && state.status === 'closed') {
    banner = {
      title: 'Disconnected: alerts are not updating.',
      detail: currentError,
      action: { kind: 'reconnect', label: 'Reconnect' },
    };
  } else if (state.stale) {
    const when =
      countdown !== null
        ? `Retry ${Math.max(1, state.attempt)} in ${countdown} s.`
        : `Retry ${Math.max(1, state.attempt)} in progress.`;
    banner = {
      title: 'Live alerts paused: cannot reach the server.',
      detail: `${when} Nothing is lost: alerts published meanwhile arrive on reconnect.${currentError ? ` Last error: ${currentError}.` : ''}`,
      action: { kind: 'retry', label: 'Retry now' },
    };
  }

  return {
    pill,
    banner,
    facts: {
      status:
        state.status === 'open'
          ? history.connectedSince !== null
            ? `connected since ${at(history.connectedSince)}`
            : 'connected'
          : state.status === 'reconnecting' && countdown !== null
            ? `reconnecting, next try in ${countdown} s`
            : state.status,
      attempt: state.status !== 'open' && state.attempt > 0 ? String(state.attempt) : '—',
      error: history.lastProblem ? `${errorText(history.lastProblem.error)} at ${at(history.lastProblem.at)}` : 'none',
      errorCode: history.lastProblem?.error.code ?? '',
      // The epoch names the server's numbering: a resume sends both.
      seq: state.lastSeq > 0 ? (state.epoch ? `${state.lastSeq} (epoch ${state.epoch})` : String(state.lastSeq)) : '—',
      token:
        tokenExp === null
          ? 'unknown'
          : tokenExpired
            ? `expired at ${at(tokenExp * 1000)}`
            : `${at(tokenExp * 1000)} (in ${duration(tokenExp - nowMs / 1000)})`,
    },
  };
}
