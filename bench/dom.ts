/** The one DOM helper of the benchmark's renderer and the demo pages (no markup built from strings). */

type Child = Node | string;

/** `el('p', { class: 'note' }, 'text', child)`: an element with attributes and children (text as text nodes). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}
