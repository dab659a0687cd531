// Renders the report webview outside VS Code and checks it: builds the bundle,
// writes standalone pages (the real reportHtml shell plus a fake VS Code host
// with a canned message sequence, in the Dark and Light Modern themes), serves
// them on loopback, drives them in headless chromium, and saves screenshots to
// artifacts/webview/. Fails on any CSP violation, page error, or broken
// interaction.
//
//   npx tsx scripts/webview-preview/preview.ts [--serve]
//
// --serve keeps the server running to open the pages in a browser.

import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import type { LayerTable } from '../../src/analysis/types';
import type { ToWebview } from '../../src/protocol';
import { reportHtml } from '../../src/extension/report/html';
import { fixtureSensitivity, fixtureValidation, loadLayerTable, realPrune } from './fixtures';
import { THEMES } from './themes';

const OUT = 'artifacts/webview';
const SITE = join(OUT, 'site');
const MODELS = '../shared/models';
const NONCE = 'cHJldmlldy1ub25jZQ==';

async function main(): Promise<void> {
  // ---- 1. Bundles and stylesheet.

  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(SITE, { recursive: true });
  const bundle = { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', logLevel: 'warning' } as const;
  await esbuild.build({ ...bundle, entryPoints: ['webview/main.ts'], outfile: join(SITE, 'webview.js'), minify: true });
  await esbuild.build({ ...bundle, entryPoints: ['scripts/webview-preview/fakeHost.ts'], outfile: join(SITE, 'fake-host.js') });
  copyFileSync('media/report.css', join(SITE, 'report.css'));
  const bundleBytes = readFileSync(join(SITE, 'webview.js')).length;

  // ---- 2. Scenarios from the real models.

  const vggTable = await loadLayerTable(`${MODELS}/digits_vgg_slim_s1e-2.onnx`);
  const resnetTable = await loadLayerTable(`${MODELS}/digits_resnet_slim_s1e-2.onnx`);
  const { report: prune, after } = await realPrune(`${MODELS}/digits_vgg_slim_s1e-2.onnx`, join(OUT, 'digits_vgg_slim_s1e-2.pruned.onnx'), 'bn-gamma', 0.5);
  const scenarios: Record<string, ToWebview[]> = {
    vgg: [
      { type: 'busy', label: 'Analyzing digits_vgg_slim_s1e-2.onnx' },
      { type: 'model', table: vggTable },
      { type: 'pruneReport', report: prune, after },
      { type: 'validation', report: fixtureValidation(vggTable, prune) },
      { type: 'sensitivity', report: fixtureSensitivity(vggTable, 0.9972) },
      { type: 'idle' },
    ],
    resnet: [
      { type: 'model', table: resnetTable },
      { type: 'error', message: 'Prune failed: digits_resnet_slim_s1e-2.onnx: layer2.conv2 and layer2.down.0 feed the same Add, so they must lose the same channels (preview fixture message).' },
      { type: 'busy', label: 'Running sensitivity analysis', progress: 0.42 },
    ],
    empty: [],
  };
  writeFileSync(join(OUT, 'vgg-prune-report.json'), JSON.stringify(prune, null, 1));

  // ---- 3. Standalone pages, served on loopback so the CSP sees a real origin.

  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };
  const server = createServer((req, res) => {
    if (req.url === '/favicon.ico') return void res.writeHead(204).end(); // chromium asks; not part of the webview
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = readFileSync(join(SITE, path));
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  for (const [name, messages] of Object.entries(scenarios)) {
    for (const [themeName, theme] of Object.entries(THEMES)) {
      const page = `${name}-${themeName}`;
      writeFileSync(join(SITE, `${page}.scenario.js`), `window.__PREVIEW__ = ${JSON.stringify({ theme, messages, delayMs: 120 })};`);
      const html = reportHtml({ cspSource: origin, nonce: NONCE, scriptUri: `${origin}/webview.js`, styleUri: `${origin}/report.css`, title: `Prune Lens preview: ${page}` });
      // The fake host must run before the webview script, under the same nonce.
      const host = `<script nonce="${NONCE}" src="${origin}/${page}.scenario.js"></script>\n<script nonce="${NONCE}" src="${origin}/fake-host.js"></script>\n`;
      writeFileSync(join(SITE, `${page}.html`), html.replace(`<script nonce="${NONCE}" src="${origin}/webview.js">`, `${host}$&`));
    }
  }

  if (process.argv.includes('--serve')) {
    console.log(`serving ${SITE} at ${origin}/ (e.g. ${origin}/vgg-dark.html); Ctrl-C to stop`);
  } else {
    await drive({ origin, vggTable, resnetTable, bundleBytes }).finally(() => server.close());
  }
}

// ---- 4. Drive the pages in chromium.

interface DriveInput {
  origin: string;
  vggTable: LayerTable;
  resnetTable: LayerTable;
  bundleBytes: number;
}

async function drive({ origin, vggTable, resnetTable, bundleBytes }: DriveInput): Promise<void> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems: string[] = [];
  const shots: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };

  async function open(name: string, width = 1400) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
    });
    await page.goto(`${origin}/${name}.html`);
    return page;
  }
  async function shot(page: Page, file: string) {
    await page.waitForTimeout(150); // let Lit finish its update cycle
    await page.screenshot({ path: join(OUT, `${file}.png`), fullPage: true });
    shots.push(file);
  }
  async function finish(page: Page, name: string) {
    const violations = await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
    for (const v of violations) problems.push(`${name}: CSP violation: ${v}`);
    await page.context().close();
  }
  const posted = (page: Page) => page.evaluate(() => (window as unknown as { __posted: { type: string; layer?: string }[] }).__posted);
  const tab = (page: Page, title: string) => page.locator('vscode-tab-header', { hasText: title }).click();

  for (const theme of Object.keys(THEMES)) {
    // The full sequence on the VGG model, driven like a user would.
    const name = `vgg-${theme}`;
    let page = await open(name);
    await page.locator('table.layers tbody tr').nth(5).waitFor();
    await page.waitForFunction(() => !document.querySelector('.busy'));
    check((await posted(page))[0]?.type === 'ready', `${name}: first message is not 'ready'`);
    await page.locator('vscode-single-select').click();
    await page.locator('vscode-single-select li[role="option"]', { hasText: 'BatchNorm |gamma|' }).click();
    await page.locator('vscode-radio[value="global"]').click();
    // The Torch-Pruning reference for this cut: 32,32,64,64 → 17,19,27,33 (96 of 192 removed).
    const total = await page.locator('.cut-total').textContent();
    check(total?.includes('96 of 192') ?? false, `${name}: global |gamma| 0.5 summary is "${total}", expected 96 of 192`);
    await page.locator('.controls vscode-button', { hasText: 'Prune' }).click();
    const request = (await posted(page)).find((m) => m.type === 'requestPrune');
    check(JSON.stringify(request) === JSON.stringify({ type: 'requestPrune', ratio: 0.5, scope: 'global', criterion: 'bn-gamma' }), `${name}: Prune… posted ${JSON.stringify(request)}`);
    await page.locator('table.layers th', { hasText: 'MACs' }).click();
    const first = await page.locator('table.layers tbody tr').first().getAttribute('data-layer');
    check(first === vggTable.layers.reduce((a, b) => (b.macs > a.macs ? b : a)).name, `${name}: MACs sort put ${first} first`);
    const target = vggTable.layers.find((l) => l.displayName === 'features.3.0')!;
    await page.locator(`table.layers tr[data-layer="${target.name}"]`).click();
    check((await page.locator('.layers-view h2').textContent()) === 'features.3.0', `${name}: histogram does not follow the selected row`);
    check((await posted(page)).some((m) => m.type === 'selectLayer' && m.layer === target.name), `${name}: no selectLayer posted`);
    check((await page.locator('.caption').textContent())?.includes('37 removed') ?? false, `${name}: features.3.0 should lose 37 channels`);
    await shot(page, `${name}-layers`);
    await tab(page, 'Before / after');
    await shot(page, `${name}-compare`);
    await tab(page, 'Validation');
    await shot(page, `${name}-validation`);
    await tab(page, 'Sensitivity');
    await page.locator('.legend li').nth(1).hover();
    check((await page.locator('svg.sensitivity.hovering').count()) === 1, `${name}: legend hover does not highlight`);
    await shot(page, `${name}-sensitivity`);
    // State survives a reload: criterion, scope, selection and tab.
    await page.reload();
    await page.locator('.legend li').first().waitFor();
    check((await page.locator('.cut-total').textContent())?.includes('96 of 192') ?? false, `${name}: settings not restored after reload`);
    await finish(page, name);

    // A narrow panel: the histogram moves under the table.
    page = await open(name, 760);
    await page.locator('table.layers tbody tr').nth(5).waitFor();
    await shot(page, `${name}-narrow`);
    await finish(page, `${name}-narrow`);

    // Only a model, an error and a busy state: empty states everywhere else.
    page = await open(`resnet-${theme}`);
    await page.locator('.busy').waitFor();
    check((await page.locator('table.layers tbody tr').count()) === resnetTable.layers.length, `resnet-${theme}: row count`);
    await page.locator('table.layers tr', { hasText: 'layer2.conv1' }).click();
    await shot(page, `resnet-${theme}-layers`);
    await tab(page, 'Before / after');
    check((await page.locator('.empty').first().textContent())?.includes('Run Prune') ?? false, `resnet-${theme}: compare empty state`);
    check((await page.locator('vscode-tab-panel:not([hidden]) .empty vscode-button').count()) === 0, `resnet-${theme}: offers Prune while busy`);
    await shot(page, `resnet-${theme}-compare-empty`);
    await tab(page, 'Validation');
    check((await page.locator('vscode-tab-panel:not([hidden]) .empty').textContent())?.includes('Run Validate Pruned Model') ?? false, `resnet-${theme}: validation empty state`);
    await finish(page, `resnet-${theme}`);

    page = await open(`empty-${theme}`);
    await page.waitForTimeout(300);
    check(await page.locator('.controls').isHidden(), `empty-${theme}: controls shown without a model`);
    await shot(page, `empty-${theme}`);
    await finish(page, `empty-${theme}`);
  }
  await browser.close();

  console.log(`webview bundle: ${(bundleBytes / 1024).toFixed(0)} KiB minified`);
  console.log(`screenshots in ${OUT}/: ${shots.join(', ')}`);
  if (problems.length > 0) {
    console.error(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log('no CSP violations, no page errors, all interaction checks passed');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
