// Stands in for VS Code in the preview page: applies a theme's variables the
// way VS Code does (CSSOM on <html>, a class on <body>), provides
// acquireVsCodeApi, answers 'ready' with a canned message sequence, and records
// everything the webview posts and every CSP violation for the harness.

import type { FromWebview, ToWebview } from '../../src/protocol';
import type { PreviewTheme } from './themes';

interface Scenario {
  theme: PreviewTheme;
  messages: ToWebview[];
  /** Milliseconds between canned messages, so busy states are visible. */
  delayMs: number;
}

interface PreviewWindow extends Window {
  __PREVIEW__: Scenario;
  __posted: FromWebview[];
  __cspViolations: string[];
  acquireVsCodeApi: () => unknown;
}

const w = window as unknown as PreviewWindow;
const scenario = w.__PREVIEW__;
w.__posted = [];
w.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  w.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
});

for (const [name, value] of Object.entries(scenario.theme.vars)) document.documentElement.style.setProperty(`--vscode-${name}`, value);
document.body.classList.add(scenario.theme.kind);

// Like VS Code, state survives a reload of the webview (here: of the page).
const STATE_KEY = 'prune-lens-preview-state';
let acquired = false;
w.acquireVsCodeApi = () => {
  if (acquired) throw new Error('acquireVsCodeApi may only be called once');
  acquired = true;
  return {
    postMessage(message: FromWebview) {
      w.__posted.push(message);
      if (message.type === 'ready') {
        scenario.messages.forEach((m, i) => setTimeout(() => window.postMessage(m, '*'), (i + 1) * scenario.delayMs));
      }
    },
    getState: () => JSON.parse(sessionStorage.getItem(STATE_KEY) ?? 'null'),
    setState: (state: unknown) => sessionStorage.setItem(STATE_KEY, JSON.stringify(state)),
  };
};
