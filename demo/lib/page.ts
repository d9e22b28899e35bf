/**
 * What every demo page shares: its run state on <body data-demo-state> (the tests and the screenshot script
 * wait for it), the figures it computed on `window.demoResult`, an error box, and a small DOM helper.
 */
import { el } from '../../bench/dom.js';

/** running → done | error | no-webgpu. */
export type DemoState = 'running' | 'done' | 'error' | 'no-webgpu';

declare global {
  interface Window {
    /** The figures the page computed (JSON-safe), for the tests and for anyone curious. */
    demoResult?: unknown;
  }
}

export function setState(state: DemoState): void {
  document.body.dataset.demoState = state;
}

/** Publishes the page's figures as `window.demoResult` (and in a JSON block the page can show). */
export function publish(result: unknown): void {
  window.demoResult = JSON.parse(JSON.stringify(result));
}

/** Shows an error on the page (and in the console, where the tests see it) and sets the state to 'error'. */
export function showError(what: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`${what}: ${message}`);
  const box = document.getElementById('error') ?? document.body.appendChild(el('div', { id: 'error' }));
  box.classList.add('error');
  box.append(el('p', {}, `${what}: ${message}`));
  setState('error');
}

/** Empties the error box (when the user changes something). */
export function clearError(): void {
  document.getElementById('error')?.replaceChildren();
}

/** `el('p', { class: 'note' }, 'text', child)`: bench/dom.ts's, shared with the benchmark's renderer. */
export { el };

/** The element with `id`, or a clear error naming it. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no element #${id}`);
  return node as T;
}

/** Lets the browser paint (progress text) before more synchronous work. */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A setting as a form shows it: the input `#in-<key>`, a checkbox for kind 'check', else a decimal text box. */
export interface FieldInput {
  key: string;
  label: string;
  kind: string;
}

/**
 * Appends the labelled input of setting `f` to `form`. On a change, `onChange` gets the checkbox's state or the
 * text; an error it throws is shown as a bad setting.
 */
export function addFieldInput(
  form: HTMLElement,
  f: FieldInput,
  onChange: (value: boolean | string) => void,
): void {
  const input = el('input', { id: `in-${f.key}`, name: f.key });
  if (f.kind === 'check') {
    input.type = 'checkbox';
    form.append(el('label', { class: 'check' }, input, f.label));
  } else {
    input.type = 'text';
    input.inputMode = 'decimal';
    form.append(el('label', {}, f.label, input));
  }
  input.addEventListener('change', () => {
    try {
      onChange(f.kind === 'check' ? input.checked : input.value);
    } catch (e) {
      showError('Bad setting', e);
    }
  });
}

/** Shows `value` in the input `#in-<key>`: checked for a boolean, else as text. */
export function setFieldInput(key: string, value: unknown): void {
  const input = byId<HTMLInputElement>(`in-${key}`);
  if (typeof value === 'boolean') input.checked = value;
  else input.value = String(value);
}
