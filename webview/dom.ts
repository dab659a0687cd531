// Tiny element builders. The CSP forbids inline style attributes, so nothing
// here sets `style`; looks come from classes in media/report.css, and the few
// computed sizes go through the CSSOM (element.style.setProperty), which the
// CSP allows.

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined>;

function build<E extends Element>(el: E, attrs: Attributes, children: Child[]): E {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key === 'style') throw new Error('dom: use classes or style.setProperty; the CSP blocks style attributes');
    el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
  return el;
}

/** An HTML element (custom elements included). */
export function h(tag: string, attrs: Attributes = {}, ...children: Child[]): HTMLElement {
  return build(document.createElement(tag), attrs, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element. */
export function s(tag: string, attrs: Attributes = {}, ...children: Child[]): SVGElement {
  return build(document.createElementNS(SVG_NS, tag) as SVGElement, attrs, children);
}

/** A short empty-state message, optionally with one action button. */
export function emptyState(message: string, action?: { label: string; run: () => void }): HTMLElement {
  const box = h('div', { class: 'empty' }, h('p', {}, message));
  if (action) {
    const button = h('vscode-button', {}, action.label);
    button.addEventListener('click', action.run);
    box.append(button);
  }
  return box;
}
