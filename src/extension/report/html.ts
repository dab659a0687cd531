// The report webview's HTML shell. Everything the page shows is built by the
// bundled script (dist/webview.js) from protocol messages; this only sets the
// Content Security Policy and loads the script and the stylesheet.

import { randomBytes } from 'node:crypto';

export interface ReportHtmlOptions {
  /** `webview.cspSource`: the origin VS Code serves local resources from. */
  cspSource: string;
  /** A fresh random nonce per render (see createNonce). */
  nonce: string;
  /** `webview.asWebviewUri(...)` of dist/webview.js, as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(...)` of media/report.css, as a string. */
  styleUri: string;
  title?: string;
}

/** A nonce for the CSP's script-src: 128 random bits, base64. */
export function createNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Strict CSP: no remote resources, no inline or eval'd script, no inline
 * styles. The web components style themselves through constructable
 * stylesheets (adoptedStyleSheets), which style-src does not govern, and the
 * webview changes styles only through the CSSOM, so 'unsafe-inline' is not needed.
 */
export function reportHtml(options: ReportHtmlOptions): string {
  const { cspSource, nonce } = options;
  // The nonce goes inside a quoted CSP token; reject anything that could break out of it.
  if (!/^[A-Za-z0-9+/=_-]+$/.test(nonce)) throw new Error(`reportHtml: invalid nonce "${nonce}"`);
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttribute(options.styleUri)}">
<title>${escapeText(options.title ?? 'Prune Lens')}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${escapeAttribute(options.scriptUri)}"></script>
</body>
</html>
`;
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;');
}
