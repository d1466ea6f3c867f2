// Keys: the list with status, policy and the period's spend against the budget; create (the secret shown once, with
// a copy button), edit limits (PATCH with only what changed), revoke (DELETE, after a confirmation).
import { t } from './i18n.js';
import { api } from './api.js';
import { dialog, h, replace, table, toast } from './dom.js';
import * as f from './format.js';

const PERIODS = ['day', 'week', 'month', 'total'];
const MODES = ['reserve', 'strict'];
const EXPIRIES = ['', '1d', '7d', '30d', '90d', '365d'];
const NAME_PATTERN = '[A-Za-z0-9._@\\-]{1,64}';

function field(label, input, hint) {
  const id = 'f-' + Math.random().toString(36).slice(2, 10);
  input.id = id;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint' }, hint) : null);
}

function select(options, current) {
  const el = h('select');
  for (const [value, label] of options) {
    el.append(h('option', { value, selected: value === current }, label));
  }
  return el;
}

function list(text) {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  return items.length ? items : null;
}

/** The policy inputs (limits and budget) filled from policy; read() gives the policy fields as the API takes them. */
function policyForm(policy = {}) {
  const count = (value) => h('input', { type: 'number', min: '1', step: '1', inputmode: 'numeric', value: value ?? '' });
  const inputs = {
    rpm: count(policy.rpm),
    tpm: count(policy.tpm),
    max_concurrent: count(policy.max_concurrent),
    models: h('input', { type: 'text', value: (policy.models ?? []).join(', '), placeholder: 'gpt-4o-mini, gpt-4.1*', spellcheck: 'false', autocapitalize: 'off' }),
    endpoints: h('input', { type: 'text', value: (policy.endpoints ?? []).join(', '), placeholder: '/v1/chat, /v1/responses', spellcheck: 'false', autocapitalize: 'off' }),
    budget_usd: h('input', { type: 'number', min: '0', step: 'any', inputmode: 'decimal', value: policy.budget_usd ?? '', placeholder: '20' }),
    budget_period: select(PERIODS.map((p) => [p, t('period.' + p)]), policy.budget_period ?? 'month'),
    budget_mode: select(MODES.map((m) => [m, t('mode.' + m)]), policy.budget_mode ?? 'reserve'),
  };
  const node = [
    h('fieldset', { class: 'fieldset' },
      h('legend', null, t('form.limits')),
      h('p', { class: 'hint' }, t('form.limitsHint')),
      h('div', { class: 'grid-3' },
        field(t('form.rpm'), inputs.rpm),
        field(t('form.tpm'), inputs.tpm),
        field(t('form.maxConcurrent'), inputs.max_concurrent)),
      h('div', { class: 'grid-2' },
        field(t('form.models'), inputs.models, t('form.modelsHint')),
        field(t('form.endpoints'), inputs.endpoints, t('form.endpointsHint')))),
    h('fieldset', { class: 'fieldset' },
      h('legend', null, t('form.budget')),
      h('div', { class: 'grid-3' },
        field(t('form.budgetUsd'), inputs.budget_usd),
        field(t('form.budgetPeriod'), inputs.budget_period),
        field(t('form.budgetMode'), inputs.budget_mode))),
  ];

  function validate() {
    for (const input of Object.values(inputs)) {
      if (!input.checkValidity()) {
        input.reportValidity();
        input.focus();
        throw new Error(input.validationMessage);
      }
    }
  }

  function read() {
    validate();
    const number = (input) => (input.value.trim() === '' ? null : Number(input.value));
    return {
      rpm: number(inputs.rpm),
      tpm: number(inputs.tpm),
      max_concurrent: number(inputs.max_concurrent),
      models: list(inputs.models.value),
      endpoints: list(inputs.endpoints.value),
      budget_usd: number(inputs.budget_usd),
      budget_period: inputs.budget_period.value,
      budget_mode: inputs.budget_mode.value,
    };
  }

  return { node, inputs, read };
}

/** The fields of a create call: only what is set (an unset limit is no limit; period and mode only with a budget). */
function createFields(policy) {
  const body = {};
  for (const name of ['rpm', 'tpm', 'max_concurrent', 'models', 'endpoints']) {
    if (policy[name] !== null) {
      body[name] = policy[name];
    }
  }
  if (policy.budget_usd !== null) {
    body.budget_usd = policy.budget_usd;
    body.budget_period = policy.budget_period;
    if (policy.budget_mode !== 'reserve') {
      body.budget_mode = policy.budget_mode;
    }
  }
  return body;
}

/** The fields of a PATCH: what differs from the stored policy, null for what was cleared. */
export function changedFields(before, after) {
  const body = {};
  for (const name of ['rpm', 'tpm', 'max_concurrent', 'budget_usd']) {
    if ((before[name] ?? null) !== after[name]) {
      body[name] = after[name];
    }
  }
  for (const name of ['models', 'endpoints']) {
    if ((before[name] ?? []).join(',') !== (after[name] ?? []).join(',')) {
      body[name] = after[name];
    }
  }
  if (after.budget_usd !== null) {
    if ((before.budget_period ?? 'month') !== after.budget_period || !('budget_usd' in before)) {
      body.budget_period = after.budget_period;
    }
    if ((before.budget_mode ?? 'reserve') !== after.budget_mode) {
      body.budget_mode = after.budget_mode;
    }
  }
  return body;
}

function statusBadge(status) {
  return h('span', { class: ['badge', 'badge-' + status] }, t('status.' + status));
}

function limitsCell(key) {
  const p = key.policy ?? {};
  if (Object.keys(p).length === 0) {
    return h('span', { class: 'muted' }, t('keys.defaultPolicy'));
  }
  const parts = [];
  if (p.rpm) parts.push(t('limit.rpm', { value: f.int(p.rpm) }));
  if (p.tpm) parts.push(t('limit.tpm', { value: f.int(p.tpm) }));
  if (p.max_concurrent) parts.push(t('limit.concurrent', { value: f.int(p.max_concurrent) }));
  return parts.length ? h('ul', { class: 'chips' }, parts.map((part) => h('li', null, part))) : h('span', { class: 'muted' }, f.dash);
}

function listCell(values) {
  return values?.length
    ? h('ul', { class: 'chips chips-code' }, values.map((v) => h('li', null, v)))
    : h('span', { class: 'muted' }, t('keys.any'));
}

/** A bar of the period's spend against the budget, and the two amounts. */
export function budgetCell(key) {
  const spend = key.spend;
  if (!spend) {
    return h('span', { class: 'muted' }, t('keys.noBudget'));
  }
  const ratio = spend.budget_usd > 0 ? spend.spent_usd / spend.budget_usd : spend.spent_usd > 0 ? 1 : 0;
  const percent = Math.round(ratio * 100);
  const fill = h('div', { class: 'bar-fill' });
  fill.style.width = `${Math.min(100, ratio * 100)}%`;
  const level = ratio >= 1 ? 'over' : ratio >= 0.8 ? 'warn' : 'ok';
  const bar = h('div', {
    class: ['bar', 'bar-' + level],
    role: 'progressbar',
    'aria-valuemin': '0',
    'aria-valuemax': '100',
    'aria-valuenow': String(Math.min(100, percent)),
    'aria-label': t('col.budget'),
  }, fill);
  const period = t('budget.period.' + spend.budget_period);
  const mode = key.policy?.budget_mode === 'strict' ? ` · ${t('budget.strict')}` : '';
  return h('div', { class: 'budget', dataset: { spent: String(spend.spent_usd), budget: String(spend.budget_usd) } },
    bar,
    h('div', { class: 'budget-text' },
      h('span', { class: 'budget-amounts' }, t('budget.of', { spent: f.usd(spend.spent_usd), budget: f.usd(spend.budget_usd) })),
      h('span', { class: ['budget-percent', level === 'over' ? 'bad' : null] }, ` ${f.int(percent)}%`),
      h('span', { class: 'muted' }, ` ${period}${mode}`)));
}

export function render(view) {
  let keys = [];
  let showInactive = false;
  const notice = h('div', { class: 'banner banner-error', role: 'alert', hidden: true });
  const panel = h('div');
  const listHost = h('div', { class: 'card card-flush' }, h('p', { class: 'loading' }, t('common.loading')));
  const count = h('span', { class: 'muted' });
  const createButton = h('button', { type: 'button', class: 'btn btn-primary', 'aria-expanded': 'false', onclick: () => toggleCreate() }, '+ ', t('keys.create'));
  const inactive = h('input', { type: 'checkbox', id: 'show-inactive', onchange: () => { showInactive = inactive.checked; draw(); } });

  replace(view,
    h('div', { class: 'page-head' },
      h('h1', null, t('keys.title'), ' ', count),
      h('div', { class: 'toolbar' },
        h('label', { class: 'check', for: 'show-inactive' }, inactive, t('keys.showInactive')),
        createButton)),
    notice,
    panel,
    listHost);

  async function load() {
    try {
      const response = await api('GET', '/keys');
      keys = response.data ?? [];
      notice.hidden = true;
      draw();
      view.dataset.loaded = String(Date.now());
    } catch (e) {
      notice.textContent = t('common.error', { message: e.message });
      notice.hidden = false;
    }
  }

  function draw() {
    const active = keys.filter((k) => k.status === 'active');
    count.textContent = keys.length ? t('keys.count', { active: f.int(active.length), total: f.int(keys.length) }) : '';
    const shown = (showInactive ? keys : active).slice().sort((a, b) =>
      (a.status === 'active' ? 0 : 1) - (b.status === 'active' ? 0 : 1) || String(a.name).localeCompare(String(b.name)));
    const columns = [
      { label: t('col.name') }, { label: t('col.status') }, { label: t('col.expires') },
      { label: t('col.limits') }, { label: t('col.models') }, { label: t('col.endpoints') },
      { label: t('col.budget'), class: 'budget-col' }, { label: t('col.actions'), class: 'actions-col' },
    ];
    const rows = shown.map((key) => ({
      attrs: { dataset: { keyId: key.key_id, status: key.status }, class: key.status !== 'active' ? 'inactive' : null },
      cells: [
        [h('strong', { class: 'key-name' }, key.name), h('code', { class: 'key-label sub' }, key.label)],
        statusBadge(key.status),
        [
          key.revoked_at ? h('span', { class: 'muted' }, f.dateTimeUtc(key.revoked_at)) : key.expires_at ? f.dateTimeUtc(key.expires_at) : h('span', { class: 'muted' }, t('keys.never')),
          h('span', { class: 'sub', title: f.dateTimeUtc(key.created_at) }, t('keys.created', { date: f.dateUtc(key.created_at) })),
        ],
        limitsCell(key),
        listCell(key.policy?.models),
        listCell(key.policy?.endpoints),
        budgetCell(key),
        key.status === 'active'
          ? h('div', { class: 'row-actions' },
            h('button', { type: 'button', class: 'btn btn-small', onclick: () => edit(key) }, t('keys.edit')),
            h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', onclick: () => revoke(key) }, t('keys.revoke')))
          : null,
      ],
    }));
    replace(listHost, table({ columns, rows, className: 'keys-table', empty: keys.length ? t('keys.noneActive') : t('keys.empty') }));
  }

  function toggleCreate(open = createButton.getAttribute('aria-expanded') !== 'true') {
    createButton.setAttribute('aria-expanded', String(open));
    if (!open) {
      panel.replaceChildren();
      return;
    }
    const name = h('input', { type: 'text', required: true, pattern: NAME_PATTERN, maxlength: '64', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', placeholder: 'alice' });
    const expires = select(EXPIRIES.map((e) => [e, t('exp.' + (e || 'never'))]), '');
    const policy = policyForm();
    const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('form.submitCreate'));
    const form = h('form', { class: 'card form-card', novalidate: true, 'aria-label': t('keys.create') },
      h('h2', null, t('keys.create')),
      h('div', { class: 'grid-2' }, field(t('form.name'), name, t('form.nameHint')), field(t('form.expires'), expires)),
      policy.node,
      error,
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn', onclick: () => toggleCreate(false) }, t('common.cancel')),
        submit));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        if (!name.checkValidity()) {
          name.reportValidity();
          throw new Error(`${t('form.name')}: ${t('form.nameHint')}`);
        }
        const body = { name: name.value.trim(), ...createFields(policy.read()) };
        if (expires.value) {
          body.expires_in = expires.value;
        }
        submit.disabled = true;
        submit.textContent = t('form.creating');
        const created = await api('POST', '/keys', { body });
        showSecret(created);
        toast(t('toast.created', { name: created.name }));
        await load();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        submit.disabled = false;
        submit.textContent = t('form.submitCreate');
      }
    });
    replace(panel, form);
    name.focus();
  }

  /** The new key's secret, once: it lives only in this panel's DOM and is gone when the panel is dismissed. */
  function showSecret(created) {
    createButton.setAttribute('aria-expanded', 'false');
    const secret = h('code', { class: 'secret', id: 'new-secret', tabindex: '0' }, created.key);
    const status = h('p', { class: 'hint', role: 'status' });
    const copy = h('button', { type: 'button', class: 'btn btn-primary', id: 'copy-secret' }, t('secret.copy'));
    copy.addEventListener('click', async () => {
      try {
        if (!navigator.clipboard?.writeText) {
          throw new Error('no clipboard');
        }
        await navigator.clipboard.writeText(secret.textContent);
        copy.textContent = `✓ ${t('secret.copied')}`;
        status.textContent = '';
      } catch {
        const range = document.createRange();
        range.selectNodeContents(secret);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        status.textContent = t('secret.copyFailed');
      }
    });
    const done = h('button', { type: 'button', class: 'btn', onclick: () => panel.replaceChildren() }, t('secret.done'));
    replace(panel, h('section', { class: 'card secret-card', 'aria-label': t('secret.label') },
      h('h2', null, t('secret.title', { name: created.name })),
      h('p', { class: 'warning' }, t('secret.warning')),
      h('div', { class: 'secret-row' }, secret, copy),
      status,
      h('div', { class: 'form-actions' }, done)));
    copy.focus();
  }

  async function edit(key) {
    const form = policyForm(key.policy ?? {});
    await dialog({
      title: t('edit.title', { name: key.name }),
      body: form.node,
      confirmLabel: t('common.save'),
      onConfirm: async () => {
        const changes = changedFields(key.policy ?? {}, form.read());
        if (Object.keys(changes).length === 0) {
          toast(t('toast.nothing'));
          return;
        }
        await api('PATCH', '/keys/' + encodeURIComponent(key.key_id), { body: changes });
        toast(t('toast.saved', { name: key.name }));
        await load();
      },
    });
  }

  async function revoke(key) {
    await dialog({
      title: t('revoke.title', { name: key.name }),
      body: [h('p', null, t('revoke.body')), h('p', null, h('code', null, key.label))],
      confirmLabel: t('revoke.confirm'),
      danger: true,
      onConfirm: async () => {
        await api('DELETE', '/keys/' + encodeURIComponent(key.key_id));
        toast(t('toast.revoked', { name: key.name }));
        await load();
      },
    });
  }

  load();
}
