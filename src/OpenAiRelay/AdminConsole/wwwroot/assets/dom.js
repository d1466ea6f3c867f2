// Building the page without ever parsing HTML: elements are created one by one, text goes in through text nodes, and
// handlers through addEventListener. An on* or style attribute is refused outright (the CSP would block it anyway).
import { t } from './i18n.js';

/**
 * h('a', { class: 'x', href: '#/keys', text: 'Keys', onclick: fn }, child, 'text', [more]) → an element.
 * Attributes are set with setAttribute; "text" sets textContent; "dataset" fills data-*; functions under on<event>
 * become listeners. null, undefined and false skip an attribute or a child.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (name === 'text') {
      el.textContent = String(value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name.startsWith('on')) {
      if (typeof value !== 'function') {
        throw new TypeError(`${name} must be a listener function`);
      }
      el.addEventListener(name.slice(2), value);
    } else if (name === 'style' || name === 'srcdoc') {
      throw new TypeError(`the ${name} attribute is not allowed`);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A table inside a horizontally scrolling wrapper: columns [{label, class}], rows of cells (nodes or text). */
export function table({ columns, rows, caption, className, empty }) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label))));
  const body = h('tbody');
  for (const row of rows) {
    const tr = h('tr', row.attrs ?? null);
    (row.cells ?? row).forEach((cell, i) => tr.append(h('td', { class: columns[i]?.class, 'data-label': columns[i]?.label }, cell)));
    body.append(tr);
  }
  if (rows.length === 0 && empty) {
    body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: columns.length }, empty)));
  }
  return h('div', { class: ['table-wrap', className] }, h('table', null, caption ? h('caption', { class: 'sr-only' }, caption) : null, head, body));
}

/** A short-lived message at the bottom of the screen (kind: ok | error). */
export function toast(message, kind = 'ok') {
  const host = document.getElementById('toasts');
  if (!host) {
    return;
  }
  const item = h('div', { class: ['toast', `toast-${kind}`], role: kind === 'error' ? 'alert' : null }, message);
  host.append(item);
  setTimeout(() => item.classList.add('toast-leaving'), 4500);
  setTimeout(() => item.remove(), 5000);
}

/**
 * A modal <dialog>: title, body nodes, and a confirm button whose action may throw (its message is shown in the
 * dialog and the dialog stays open). Resolves true when confirmed, false when cancelled.
 */
export function dialog({ title, body, confirmLabel, danger = false, onConfirm }) {
  return new Promise((resolve) => {
    const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const confirm = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'] }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'btn', value: 'cancel' }, t('common.cancel'));
    const form = h('form', { method: 'dialog', class: 'dialog-form' },
      h('h2', { class: 'dialog-title' }, title),
      h('div', { class: 'dialog-body' }, body),
      error,
      h('div', { class: 'dialog-actions' }, cancel, confirm));
    const el = h('dialog', { class: 'dialog', 'aria-label': title }, form);
    let done = false;
    const finish = (result) => {
      if (!done) {
        done = true;
        el.close();
        el.remove();
        resolve(result);
      }
    };
    cancel.addEventListener('click', () => finish(false));
    el.addEventListener('cancel', () => finish(false));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      confirm.disabled = true;
      error.hidden = true;
      try {
        await onConfirm?.();
        finish(true);
      } catch (e) {
        error.textContent = e?.message ?? String(e);
        error.hidden = false;
        confirm.disabled = false;
      }
    });
    document.body.append(el);
    el.showModal();
  });
}
