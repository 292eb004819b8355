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
}

export interface AlertListView {
  render(alerts: readonly Alert[], isAcked: (a: Alert) => boolean, ackPhase: (id: string) => AckPhase | undefined): void;
  /** Refresh the "12 s ago" labels. */
  tick(nowMs: number): void;
}

interface Card {
  el: HTMLLIElement;
  alert: Alert;
  agoEl: HTMLElement;
  actions: HTMLElement;
  /** What the actions area currently shows, to skip redundant updates. */
  actionsKey: string;
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
      ),
    );
    const actions = h('div', { class: 'actions' });
    const el = h(
      'li',
      { class: 'alert', 'data-alert-id': alert.alert_id, 'data-level': level, 'data-acked': 'false' },
      thumb,
      body,
      actions,
    );
    if (rendered && alert.replayed !== true) el.classList.add('fresh');
    return { el, alert, agoEl, actions, actionsKey: '' };
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
        const expected: ChildNode | null = previous ? previous.nextSibling : list.firstChild;
        if (expected !== card.el) list.insertBefore(card.el, expected);
        previous = card.el;
      }
      rendered = true;
    },
    tick(nowMs) {
      for (const card of cards.values()) setText(card.agoEl, ago(card.alert.timestamp, nowMs));
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
