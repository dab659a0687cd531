import { strict as assert } from 'node:assert';
import { createNonce, reportHtml } from '../../../src/extension/report/html';
import { isFromWebview } from '../../../src/protocol';
import { DEFAULT_SETTINGS, restoreData, restoreSettings } from '../../../webview/state';

describe('webview protocol and shell', () => {
  it('accepts the messages the webview sends', () => {
    assert.ok(isFromWebview({ type: 'ready' }));
    assert.ok(isFromWebview({ type: 'selectLayer', layer: '/conv1/Conv' }));
    assert.ok(isFromWebview({ type: 'requestPrune', ratio: 0.5, scope: 'global', criterion: 'bn-gamma' }));
    assert.ok(isFromWebview({ type: 'requestValidate' }));
  });

  it('rejects malformed messages', () => {
    assert.ok(!isFromWebview(null));
    assert.ok(!isFromWebview('ready'));
    assert.ok(!isFromWebview({ type: 'selectLayer' }));
    assert.ok(!isFromWebview({ type: 'requestPrune', ratio: 1, scope: 'global', criterion: 'bn-gamma' }));
    assert.ok(!isFromWebview({ type: 'requestPrune', ratio: 0.5, scope: 'everywhere', criterion: 'bn-gamma' }));
    assert.ok(!isFromWebview({ type: 'requestPrune', ratio: 0.5, scope: 'local', criterion: 'taylor' }));
    assert.ok(!isFromWebview({ type: 'deleteEverything' }));
  });

  it('builds a strict CSP: nonce scripts only, no inline styles, no remote hosts', () => {
    const nonce = createNonce();
    const html = reportHtml({ cspSource: 'https://file+.vscode-resource.vscode-cdn.net', nonce, scriptUri: 'https://x/dist/webview.js', styleUri: 'https://x/media/report.css' });
    const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)![1];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce.replace(/[+/]/g, '\\$&')}'`));
    assert.doesNotMatch(csp, /unsafe-(inline|eval)/);
    assert.match(html, new RegExp(`<script nonce="${nonce.replace(/[+/]/g, '\\$&')}" src="https://x/dist/webview.js">`));
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.notEqual(createNonce(), nonce);
  });

  it('escapes what it interpolates and refuses a nonce that could break the CSP', () => {
    const html = reportHtml({ cspSource: 'vscode-resource:', nonce: 'abc', scriptUri: 'a"b', styleUri: 's', title: '<model>' });
    assert.match(html, /src="a&quot;b"/);
    assert.match(html, /<title>&lt;model&gt;<\/title>/);
    assert.throws(() => reportHtml({ cspSource: 'x', nonce: "a' 'unsafe-inline", scriptUri: 's', styleUri: 's' }), /invalid nonce/);
  });

  it('restores settings field by field from an older or broken state', () => {
    assert.deepEqual(restoreSettings(undefined), { ...DEFAULT_SETTINGS, selectedLayer: undefined });
    const s = restoreSettings({ settings: { ratio: 3, scope: 'global', criterion: 'nope', sortKey: 'macs', sortDirection: 'desc', tab: 'sensitivity', selectedLayer: 7 } });
    assert.equal(s.ratio, 0.95);
    assert.equal(s.scope, 'global');
    assert.equal(s.criterion, DEFAULT_SETTINGS.criterion);
    // State saved by an older build spelled the BatchNorm criterion "gamma".
    assert.equal(restoreSettings({ settings: { criterion: 'gamma' } }).criterion, 'bn-gamma');
    assert.equal(restoreSettings({ settings: { criterion: 'wanda' } }).criterion, DEFAULT_SETTINGS.criterion, 'not a preview method');
    assert.equal(s.sortKey, 'macs');
    assert.equal(s.tab, 'sensitivity');
    assert.equal(s.selectedLayer, undefined);
    assert.deepEqual(restoreData({ data: { table: { file: 'x' } } }), {}); // no layers: not a table
  });
});
