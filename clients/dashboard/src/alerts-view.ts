// The alert list, newest first. Cards are keyed by alert_id and kept between
// renders, so an update (an ack, a new alert above) never re-creates an <img>
// and never re-fetches a frame.
import type { Alert } from '@vigil/client';
import { h, setText } from './dom.js';
import { ago, clockTime, confidenceOf, humanize, percent, plural } from './format.js';

export type AckPhase = { phase: 'pending' } | { phase: 'failed'; message: string };

export interface AlertListOptions {
  list: HTMLOListElement;
  /** The frame's image URL (with credentials), or null when the alert has none. */
  frameSrc(alert: Alert): string | null;
  onAck(alert: Alert): void;
  onViewFrame(alert: Alert, src: string): void;
  /** Epoch ms until which the alert's stream is snoozed for push, or null. */
  snoozedUntil(streamId: string, nowMs: number): number | null;
  /** Snooze the stream for `minutes`, or end its snooze (null). */
  onSnooze(streamId: string, minutes: number | null): void;
}

export interface AlertListView {
  render(alerts: readonly Alert[], isAcked: (a: Alert) => boolean, ackPhase: (id: string) => AckPhase | undefined): void;
  /** Refresh the "12 s ago" labels and the snoozes (one ends by itself). */
  tick(nowMs: number): void;
  /** Scrolls to the alert and marks it; false when it is not in the list. */
  focus(alertId: string): boolean;
}

/** What a row offers for snoozing its stream. */
export const SNOOZE_CHOICES: readonly { minutes: number; label: string }[] = [
  { minutes: 15, label: '15 min' },
  { minutes: 60, label: '1 h' },
  { minutes: 480, label: '8 h' },
];

interface Card {
  el: HTMLLIElement;
  alert: Alert;
  agoEl: HTMLElement;
  actions: HTMLElement;
  /** What the actions area currently shows, to skip redundant updates. */
  actionsKey: string;
  snooze: HTMLElement;
  snoozeKey: string;
}

export function createAlertList(options: AlertListOptions): AlertListView {
  const { list } = options;
  const cards = new Map<string, Card>();
  let rendered = false; // cards made at the first render (page load, replay) are not "fresh"

  function createCard(alert: Alert): Card {
    const detection = alert.detection ?? {};
    const type = humanize(detection.type ?? detection.label ?? detection.kind);
    const confidence = confidenceOf(detection.confidence ?? detection.score);
    const boxes = Array.isArray(detection.boxes) ? detection.boxes.length : 0;
    const stream = typeof alert.stream_id === 'number' ? `stream ${alert.stream_id}` : String(alert.stream_id ?? '');
    // Optional fields of servers with push (SPEC section 9): severity, and suppressed
    // (stored and shown, but not pushed: the stream was snoozed or in quiet hours).
    const severity = typeof alert.severity === 'string' && /^(critical|high|medium|low)$/.test(alert.severity) ? alert.severity : null;
    const suppressed = alert.suppressed === true;

    const src = options.frameSrc(alert);
    let thumb: HTMLElement;
    if (src) {
      const img = h('img', { class: 'frame', src, alt: `Annotated frame from ${stream}`, decoding: 'async' });
      thumb = h('button', { class: 'thumb', type: 'button', title: 'View the frame' }, img);
      img.addEventListener('error', () => {
        thumb.classList.add('broken');
        thumb.setAttribute('disabled', '');
        thumb.title = 'The frame could not be loaded';
      });
      thumb.addEventListener('click', () => options.onViewFrame(alert, src));
    } else {
      thumb = h('div', { class: 'thumb none' }, h('span', {}, 'no frame'));
    }

    const level = confidence === null ? 'unknown' : confidence >= 0.85 ? 'high' : confidence >= 0.6 ? 'medium' : 'low';
    const meter = h('span', { class: 'meter', 'aria-hidden': 'true' }, h('span', {}));
    if (confidence !== null) (meter.firstChild as HTMLElement).style.width = percent(confidence);

    const agoEl = h('span', { class: 'ago' }, ago(alert.timestamp));
    const body = h(
      'div',
      { class: 'body', title: summaryTitle(detection) },
      h(
        'div',
        { class: 'headline' },
        severity && h('span', { class: 'severity', 'data-severity': severity, title: 'severity' }, severity),
        h('span', { class: 'type' }, type),
        confidence !== null && h('span', { class: 'confidence', title: 'confidence' }, meter, h('span', { class: 'value' }, percent(confidence))),
      ),
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'stream' }, stream),
        h('span', { class: 'dot' }, '·'),
        h('span', { class: 'boxes' }, boxes === 0 ? 'no boxes' : plural(boxes, 'box', 'boxes')),
      ),
      h(
        'div',
        { class: 'meta muted' },
        h('time', { datetime: alert.timestamp }, clockTime(alert.timestamp)),
        h('span', { class: 'dot' }, '·'),
        agoEl,
        h('span', { class: 'dot' }, '·'),
        h('span', { class: 'seq', title: 'sequence number' }, `#${alert.seq}`),
        alert.replayed === true && h('span', { class: 'tag', title: 'delivered from the store when this page connected' }, 'replayed'),
        suppressed &&
          h('span', { class: 'tag suppressed', title: 'not pushed: its stream was snoozed, or quiet hours held it back' }, 'suppressed'),
      ),
    );
    const snooze = h('div', { class: 'snooze' });
    const actions = h('div', { class: 'actions' });
    const el = h(
      'li',
      {
        class: 'alert',
        'data-alert-id': alert.alert_id,
        'data-level': level,
        'data-acked': 'false',
        'data-severity': severity,
        'data-suppressed': suppressed ? 'true' : null,
      },
      thumb,
      body,
      h('div', { class: 'side' }, actions, snooze),
    );
    if (rendered && alert.replayed !== true) el.classList.add('fresh');
    return { el, alert, agoEl, actions, actionsKey: '', snooze, snoozeKey: '' };
  }

  function renderSnooze(card: Card, nowMs: number): void {
    const streamId = typeof card.alert.stream_id === 'string' ? card.alert.stream_id : String(card.alert.stream_id ?? '');
    if (!streamId) return;
    const until = options.snoozedUntil(streamId, nowMs);
    const key = until === null ? 'off' : String(until);
    if (key === card.snoozeKey) return;
    card.snoozeKey = key;
    card.snooze.dataset.snoozed = String(until !== null);
    if (until !== null) {
      const end = h('button', { class: 'link end-snooze', type: 'button', title: `Push ${streamId}'s alerts again` }, 'End snooze');
      end.addEventListener('click', () => options.onSnooze(streamId, null));
      const time = new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      card.snooze.replaceChildren(h('span', { class: 'muted small' }, `Snoozed until ${time}`), end);
      return;
    }
    const select = h(
      'select',
      { class: 'snooze-select', 'aria-label': `Snooze pushes from ${streamId}`, title: `Snooze pushes from ${streamId}` },
      h('option', { value: '' }, 'Snooze stream…'),
      ...SNOOZE_CHOICES.map((c) => h('option', { value: c.minutes }, c.label)),
    );
    select.addEventListener('change', () => {
      const minutes = Number(select.value);
      select.value = '';
      if (minutes > 0) options.onSnooze(streamId, minutes);
    });
    card.snooze.replaceChildren(select);
  }

  function renderActions(card: Card, acked: boolean, phase: AckPhase | undefined): void {
    const key = acked ? 'acked' : phase ? `${phase.phase}:${'message' in phase ? phase.message : ''}` : 'idle';
    if (key === card.actionsKey) return;
    card.actionsKey = key;
    card.el.dataset.acked = String(acked);
    card.actions.replaceChildren();
    if (acked) {
      card.actions.append(h('span', { class: 'acked-label' }, '✓ Acknowledged'));
      return;
    }
    const pending = phase?.phase === 'pending';
    const button = h(
      'button',
      { class: 'button primary ack', type: 'button', disabled: pending },
      pending ? 'Acknowledging…' : phase?.phase === 'failed' ? 'Retry ack' : 'Acknowledge',
    );
    button.addEventListener('click', () => options.onAck(card.alert));
    card.actions.append(button);
    if (phase?.phase === 'failed') card.actions.append(h('p', { class: 'error small' }, phase.message));
  }

  return {
    render(alerts, isAcked, ackPhase) {
      const wanted = alerts.slice().reverse(); // state is oldest first; show newest first
      const ids = new Set(wanted.map((a) => a.alert_id));
      for (const [id, card] of cards) {
        if (!ids.has(id)) {
          card.el.remove();
          cards.delete(id);
        }
      }
      let previous: Element | null = null;
      for (const alert of wanted) {
        let card = cards.get(alert.alert_id);
        if (!card) {
          card = createCard(alert);
          cards.set(alert.alert_id, card);
        }
        card.alert = alert;
        renderActions(card, isAcked(alert), ackPhase(alert.alert_id));
        renderSnooze(card, Date.now());
        const expected: ChildNode | null = previous ? previous.nextSibling : list.firstChild;
        if (expected !== card.el) list.insertBefore(card.el, expected);
        previous = card.el;
      }
      rendered = true;
    },
    tick(nowMs) {
      for (const card of cards.values()) {
        setText(card.agoEl, ago(card.alert.timestamp, nowMs));
        renderSnooze(card, nowMs);
      }
    },
    focus(alertId) {
      const card = cards.get(alertId);
      if (!card) return false;
      for (const other of list.querySelectorAll('li.alert.focused')) other.classList.remove('focused');
      card.el.classList.add('focused');
      card.el.scrollIntoView({ block: 'center', behavior: 'smooth' });
      return true;
    },
  };
}

/** Hover text: the detection as the detector sent it, shortened. */
function summaryTitle(detection: Record<string, unknown>): string {
  let text: string;
  try {
    text = JSON.stringify(detection, null, 1);
  } catch {
    return '';
  }
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
