// Teams, for admins (docs/handling.md): every team with its members, a form to
// create one or change its members (PUT /api/v1/teams/{team}), and Delete.
// GET /api/v1/teams decides whether the section shows: 200 shows it; 401/403
// (not an admin) and 404 (a server without teams) hide it and stop asking.
import { api, ApiError, describeError } from './api.js';
import { h, setHidden, setText } from './dom.js';

interface Team {
  team: string;
  members: string[];
  escalation?: Record<string, string> | null;
  updated_at?: string;
}

export interface TeamsUi {
  section: HTMLElement;
  list: HTMLUListElement;
  form: HTMLFormElement;
  name: HTMLInputElement;
  members: HTMLInputElement;
  message: HTMLElement;
}

/** The server's rule for team names. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_MEMBERS = 1000;

/** "alice, bob\ncarol" → ["alice", "bob", "carol"], duplicates dropped. */
export function parseMembers(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((m) => m !== ''))];
}

export function startTeamsPanel(options: { ui: TeamsUi; token: string }): () => void {
  const { ui, token } = options;
  let stopped = false;
  let teams: Team[] = [];

  function say(text: string, kind: 'ok' | 'error' = 'ok'): void {
    if (stopped) return;
    setText(ui.message, text);
    ui.message.dataset.kind = kind;
    setHidden(ui.message, text === '');
  }

  async function load(): Promise<void> {
    try {
      const answer = await api<{ teams?: Team[] }>('GET', '/api/v1/teams', token);
      if (stopped) return;
      teams = Array.isArray(answer.body?.teams) ? answer.body.teams : [];
      render();
      setHidden(ui.section, false);
    } catch (err) {
      if (stopped) return;
      if (err instanceof ApiError && [401, 403, 404].includes(err.status)) setHidden(ui.section, true);
      else say(`The teams could not be loaded: ${describeError(err)}`, 'error');
    }
  }

  function render(): void {
    const sorted = teams.slice().sort((a, b) => a.team.localeCompare(b.team));
    ui.list.replaceChildren(
      ...sorted.map((t) => {
        const edit = h('button', { class: 'link', type: 'button', 'aria-label': `Edit team ${t.team}` }, 'Edit');
        const remove = h('button', { class: 'link', type: 'button', 'aria-label': `Delete team ${t.team}` }, 'Delete');
        edit.addEventListener('click', () => {
          ui.name.value = t.team;
          ui.members.value = t.members.join(', ');
          ui.members.focus();
        });
        remove.addEventListener('click', () => void deleteTeam(t.team));
        const policies = t.escalation ? Object.entries(t.escalation).map(([severity, policy]) => `${severity}: ${policy}`) : [];
        return h(
          'li',
          { 'data-team': t.team },
          h('div', { class: 'team-head' }, h('strong', {}, t.team), h('span', { class: 'muted' }, `${t.members.length} ${t.members.length === 1 ? 'member' : 'members'}`), edit, remove),
          h('div', { class: 'team-members' }, t.members.join(', ')),
          policies.length > 0 && h('div', { class: 'muted' }, `escalation ${policies.join(' · ')}`),
        );
      }),
    );
    if (sorted.length === 0) ui.list.append(h('li', { class: 'muted' }, 'No teams yet.'));
  }

  async function save(): Promise<void> {
    const name = ui.name.value.trim();
    const members = parseMembers(ui.members.value);
    if (!NAME.test(name)) return say('A team name is 1–64 letters, digits, "_", "." or "-".', 'error');
    if (members.length === 0 || members.length > MAX_MEMBERS) return say(`A team has 1–${MAX_MEMBERS} members.`, 'error');
    // Changing the members keeps the team's escalation policies (PUT replaces the whole team).
    const existing = teams.find((t) => t.team === name);
    const body: Record<string, unknown> = { members };
    if (existing?.escalation) body.escalation = existing.escalation;
    try {
      const answer = await api<Team>('PUT', `/api/v1/teams/${encodeURIComponent(name)}`, token, body);
      if (stopped) return;
      const saved = answer.body ?? { team: name, members };
      teams = [...teams.filter((t) => t.team !== name), saved];
      render();
      ui.form.reset();
      say(`Team ${name} saved: ${saved.members.join(', ')}.`);
    } catch (err) {
      say(`Not saved: ${describeError(err)}`, 'error');
    }
  }

  async function deleteTeam(name: string): Promise<void> {
    try {
      await api('DELETE', `/api/v1/teams/${encodeURIComponent(name)}`, token);
      if (stopped) return;
      teams = teams.filter((t) => t.team !== name);
      render();
      say(`Team ${name} deleted. Alerts already sent to it keep their recipients.`);
    } catch (err) {
      say(`Not deleted: ${describeError(err)}`, 'error');
    }
  }

  const onSubmit = (event: Event) => {
    event.preventDefault();
    void save();
  };
  ui.form.addEventListener('submit', onSubmit);
  void load();

  return () => {
    stopped = true;
    ui.form.removeEventListener('submit', onSubmit);
    setHidden(ui.section, true);
    ui.list.replaceChildren();
    setHidden(ui.message, true);
  };
}
