// The alert list, newest first. Cards are keyed by alert_id and kept between
// renders, so an update (an ack, a new alert above) never re-creates an <img>
// and never re-fetches a frame. Each card shows the alert's handling (its
// shared state, owner, team, escalation level: docs/handling.md), the actions
// its state allows, and its audit trail on demand.
import type { Alert, AlertState, AuditEvent, Outcome } from '@vigil/client';
import { h, setHidden, setText } from './dom.js';
import { ago, clockTime, confidenceOf, humanize, percent, plural } from './format.js';

export type Action = 'ack' | 'resolve' | 'reopen';
/** A request of this page for the alert, while it is under way or after it failed. */
export type ActionPhase = { action: Action; phase: 'pending' } | { action: Action; phase: 'failed'; message: string };

export const OUTCOMES: readonly { value: Outcome; label: string }[] = [
  { value: 'real', label: 'Real' },
  { value: 'false_alarm', label: 'False alarm' },
  { value: 'test', label: 'Test' },
];
/** The server's limit on a resolution note (docs/handling.md). */
export const NOTE_MAX = 1000;

/**
 * The alert's state: the server's word when it sends one; from a server before
 * handling, acknowledged when it was acked (by us, or before a replay).
 */
export function stateOf(alert: Alert): AlertState {
  if (alert.state === 'open' || alert.state === 'acknowledged' || alert.state === 'resolved') return alert.state;
  return alert.acknowledged === true || alert.acked === true ? 'acknowledged' : 'open';
}

/** True when the server speaks handling (resolve, reopen, the audit trail): its alerts carry `state`. */
export function hasHandling(alert: Alert): boolean {
  return typeof alert.state === 'string';
}

export interface AlertListOptions {
  list: HTMLOListElement;
  /** The frame's image URL (with credentials), or null when the alert has none. */
  frameSrc(alert: Alert): string | null;
  onAck(alert: Alert): void;
  onResolve(alert: Alert, outcome: Outcome, note: string): void;
  onReopen(alert: Alert): void;
  /** The alert's audit trail, oldest first (GET /api/v1/alerts/{id}/events). */
  loadTrail(alert: Alert): Promise<AuditEvent[]>;
  /** The trail's failure, as the page words errors. */
  describeError(err: unknown): string;
  onViewFrame(alert: Alert, src: string): void;
  /** Epoch ms until which the alert's stream is snoozed for push, or null. */
  snoozedUntil(streamId: string, nowMs: number): number | null;
  /** Snooze the stream for `minutes`, or end its snooze (null). */
  onSnooze(streamId: string, minutes: number | null): void;
}

export interface AlertListView {
  /** `alerts` oldest first, as the client holds them (with any state learned over HTTP laid over). */
  render(alerts: readonly Alert[], phaseOf: (id: string) => ActionPhase | undefined): void;
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
  severityEl: HTMLElement;
  /** State, owner, team, escalation level. */
  handling: HTMLElement;
  handlingKey: string;
  actions: HTMLElement;
  /** What the actions area currently shows, to skip redundant updates. */
  actionsKey: string;
  /** The Resolve form, kept while open so that a re-render keeps what was typed. */
  resolveForm: HTMLFormElement | null;
  snooze: HTMLElement;
  snoozeKey: string;
  trailButton: HTMLButtonElement;
  trail: HTMLElement;
  /** Bumped per load, so that a slow answer does not overwrite a newer one. */
  trailLoads: number;
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
    const severityEl = h('span', { class: 'severity', 'data-severity': severity, title: 'severity' }, severity ?? '');
    setHidden(severityEl, severity === null);
    const handling = h('div', { class: 'meta handling' });
    const trailId = `trail-${alert.alert_id}`;
    const trailButton = h(
      'button',
      { class: 'link trail-toggle', type: 'button', 'aria-expanded': 'false', 'aria-controls': trailId },
      'Audit trail',
    );
    const trail = h('div', { class: 'trail', id: trailId, hidden: true });
    const body = h(
      'div',
      { class: 'body', title: summaryTitle(detection) },
      h(
        'div',
        { class: 'headline' },
        severityEl,
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
      handling,
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
      trail,
    );
    if (rendered && alert.replayed !== true) el.classList.add('fresh');
    const card: Card = {
      el, alert, agoEl, severityEl, handling, handlingKey: '', actions, actionsKey: '', resolveForm: null,
      snooze, snoozeKey: '', trailButton, trail, trailLoads: 0,
    };
    trailButton.addEventListener('click', () => {
      const open = trailButton.getAttribute('aria-expanded') !== 'true';
      trailButton.setAttribute('aria-expanded', String(open));
      setHidden(trail, !open);
      if (open) void loadTrail(card);
    });
    return card;
  }

  /** State, owner, team and escalation level; the severity too (an update may carry it). */
  function renderHandling(card: Card): void {
    const a = card.alert;
    const state = stateOf(a);
    const owner = typeof a.owner === 'string' && a.owner !== '' ? a.owner : null;
    // 0 (or none): no escalation policy applies to it.
    const level = typeof a.escalation_level === 'number' && a.escalation_level > 0 ? a.escalation_level : null;
    const team = typeof a.team === 'string' && a.team !== '' ? a.team : null;
    const outcome = typeof a.outcome === 'string' ? a.outcome : null;
    const note = typeof a.note === 'string' && a.note !== '' ? a.note : null;
    const resolvedBy = typeof a.resolved_by === 'string' ? a.resolved_by : null;
    const severity = typeof a.severity === 'string' && /^(critical|high|medium|low)$/.test(a.severity) ? a.severity : null;
    const key = JSON.stringify([state, owner, level, team, outcome, note, resolvedBy, severity]);
    if (key === card.handlingKey) return;
    const changed = card.handlingKey !== '';
    card.handlingKey = key;
    card.el.dataset.state = state;
    card.el.dataset.acked = String(state !== 'open');
    if (severity !== null) {
      card.el.dataset.severity = severity;
      card.severityEl.dataset.severity = severity;
      setText(card.severityEl, severity);
    }
    setHidden(card.severityEl, severity === null);
    const outcomeLabel = OUTCOMES.find((o) => o.value === outcome)?.label ?? outcome;
    const parts = [
      h('span', { class: 'state-badge', 'data-state': state, title: 'state' }, state),
      owner !== null && h('span', { class: 'owner', title: 'who acknowledged it' }, `owner ${owner}`),
      // A replayed copy carries the state and owner only; the outcome comes with alert_updated (and the trail).
      state === 'resolved' &&
        outcomeLabel !== null &&
        h(
          'span',
          { class: 'resolution' },
          `${outcomeLabel}${resolvedBy !== null && resolvedBy !== owner ? ` by ${resolvedBy}` : ''}`,
          note !== null && h('q', { class: 'note' }, note),
        ),
      team !== null && h('span', { class: 'tag team', title: 'sent to this team' }, `team ${team}`),
      level !== null && h('span', { class: 'tag level', title: 'escalation level: 1 is the first audience' }, `level ${level}`),
    ];
    card.handling.replaceChildren(...parts.filter((p): p is HTMLSpanElement => p !== false));
    // Someone changed it while its trail is open: show the new entry too.
    if (changed && card.trailButton.getAttribute('aria-expanded') === 'true') void loadTrail(card);
  }

  async function loadTrail(card: Card): Promise<void> {
    const load = ++card.trailLoads;
    card.trail.setAttribute('aria-busy', 'true');
    if (card.trail.childElementCount === 0) card.trail.replaceChildren(h('p', { class: 'muted small' }, 'Loading the audit trail…'));
    let content: HTMLElement;
    try {
      const events = await options.loadTrail(card.alert);
      content =
        events.length === 0
          ? h('p', { class: 'muted small' }, 'No events.')
          : h('ol', { class: 'trail-events small' }, ...events.map(trailEntry));
    } catch (err) {
      content = h('p', { class: 'error small' }, `The audit trail could not be loaded: ${options.describeError(err)}`);
    }
    if (load !== card.trailLoads) return;
    card.trail.removeAttribute('aria-busy');
    card.trail.replaceChildren(h('h3', { class: 'visually-hidden' }, 'Audit trail'), content);
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

  function renderActions(card: Card, phase: ActionPhase | undefined): void {
    const state = stateOf(card.alert);
    const handling = hasHandling(card.alert);
    const resolving = card.resolveForm !== null && handling && state !== 'resolved';
    const key = `${state}:${handling}:${resolving}:${phase ? `${phase.action}:${phase.phase}:${'message' in phase ? phase.message : ''}` : ''}`;
    if (key === card.actionsKey) return;
    card.actionsKey = key;
    if (!resolving) card.resolveForm = null;
    const pending = phase?.phase === 'pending' ? phase.action : null;
    const button = (cls: string, label: string, busyLabel: string, action: Action, onClick: () => void) => {
      const b = h('button', { class: `button ${cls}`, type: 'button', disabled: pending !== null }, pending === action ? busyLabel : label);
      b.addEventListener('click', onClick);
      return b;
    };
    const row = h('div', { class: 'button-row' });
    if (state === 'open') {
      const retry = phase?.phase === 'failed' && phase.action === 'ack';
      row.append(button('primary ack', retry ? 'Retry ack' : 'Acknowledge', 'Acknowledging…', 'ack', () => options.onAck(card.alert)));
    }
    if (handling && state !== 'resolved' && !resolving) {
      row.append(button('resolve', 'Resolve…', 'Resolving…', 'resolve', () => {
        card.resolveForm = resolveForm(card);
        card.actionsKey = '';
        renderActions(card, phase?.phase === 'failed' ? undefined : phase);
        card.resolveForm?.querySelector('select')?.focus();
      }));
    }
    if (handling && state !== 'open') {
      row.append(button('reopen', 'Reopen', 'Reopening…', 'reopen', () => options.onReopen(card.alert)));
    }
    const label =
      state === 'acknowledged' ? h('span', { class: 'acked-label' }, '✓ Acknowledged')
      : state === 'resolved' ? h('span', { class: 'acked-label resolved-label' }, '✓ Resolved')
      : null;
    card.actions.replaceChildren(
      ...[label, row.childElementCount > 0 ? row : null, resolving ? card.resolveForm : null, handling ? card.trailButton : null].filter(
        (n): n is HTMLElement => n !== null,
      ),
    );
    if (phase?.phase === 'failed') card.actions.append(h('p', { class: 'error small', role: 'alert' }, phase.message));
    if (resolving && card.resolveForm) {
      const submit = card.resolveForm.querySelector<HTMLButtonElement>('button[type="submit"]');
      if (submit) {
        submit.disabled = pending !== null;
        setText(submit, pending === 'resolve' ? 'Resolving…' : 'Resolve');
      }
    }
  }

  /** Outcome and an optional note, then Resolve; Cancel folds it away. */
  function resolveForm(card: Card): HTMLFormElement {
    const id = card.alert.alert_id;
    const select = h(
      'select',
      { name: 'outcome', class: 'outcome', required: true },
      ...OUTCOMES.map((o) => h('option', { value: o.value }, o.label)),
    );
    const note = h('input', {
      name: 'note',
      class: 'note-input',
      type: 'text',
      maxlength: NOTE_MAX,
      autocomplete: 'off',
      placeholder: 'optional',
    });
    const cancel = h('button', { class: 'button', type: 'button' }, 'Cancel');
    const form = h(
      'form',
      { class: 'resolve-form small', 'aria-label': `Resolve alert ${id}` },
      h('label', {}, 'Outcome ', select),
      h('label', {}, 'Note ', note),
      h('div', { class: 'button-row' }, h('button', { class: 'button primary', type: 'submit' }, 'Resolve'), cancel),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      options.onResolve(card.alert, select.value as Outcome, note.value.trim());
    });
    cancel.addEventListener('click', () => {
      card.resolveForm = null;
      card.actionsKey = '';
      renderActions(card, undefined);
    });
    return form;
  }

  return {
    render(alerts, phaseOf) {
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
        renderHandling(card);
        renderActions(card, phaseOf(alert.alert_id));
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

const EVENT_WORDS: Record<string, string> = {
  published: 'Published',
  delivered: 'Delivered',
  escalated: 'Escalated',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
  reopened: 'Reopened',
};

/** One line of the audit trail: "01:02:03 Resolved by bob: false alarm “a cat”". */
function trailEntry(event: AuditEvent): HTMLLIElement {
  const type = typeof event.type === 'string' ? event.type : 'event';
  const actor = typeof event.actor === 'string' ? event.actor : '';
  const at = typeof event.at === 'string' ? event.at : '';
  let text = `${EVENT_WORDS[type] ?? humanize(type)}${type === 'delivered' ? ' to' : ' by'} ${actor}`;
  if (type === 'delivered' && typeof event.node === 'string') text += ` (${event.node})`;
  if (type === 'escalated') {
    text = `Escalated to level ${String(event.level ?? '?')}${typeof event.notify === 'string' ? `, ${event.notify}` : ''}`;
    if (Array.isArray(event.recipients)) text += ` (${event.recipients.map(String).join(', ')})`;
  }
  if (type === 'resolved' && typeof event.outcome === 'string') {
    text += `: ${OUTCOMES.find((o) => o.value === event.outcome)?.label.toLowerCase() ?? event.outcome}`;
  }
  return h(
    'li',
    { 'data-type': type },
    h('time', { datetime: at }, at ? clockTime(at) : ''),
    ' ',
    text,
    type === 'resolved' && typeof event.note === 'string' && event.note !== '' && h('q', { class: 'note' }, event.note),
  );
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
