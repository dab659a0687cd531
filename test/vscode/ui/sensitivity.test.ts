// Sensitivity curves in the report webview, as a user gets them: the
// webview's own "Run sensitivity analysis" button (VGG) and the palette
// command with the report open (ResNet). The validation data comes from the
// workspace settings, as a user would set them once; the theme is dark. Screenshots:
// sensitivity-vgg.png and sensitivity-resnet.png.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { openWorkbench, uiSession, type Workbench } from '../../../scripts/vscode/workbench';

const SETTINGS = {
  'pruneLens.validation.data': 'digits_val_x.npy',
  'pruneLens.validation.labels': 'digits_val_y.npy',
  // The curves must read on a dark background: most users have one.
  'workbench.colorTheme': 'Default Dark Modern',
  'window.autoDetectColorScheme': true,
  'workbench.preferredDarkColorTheme': 'Default Dark Modern',
};

/**
 * A workbench in the dark theme: the settings follow the browser's colour scheme
 * (window.autoDetectColorScheme), which flips to dark once the workspace settings
 * are in. A flip before they load goes unnoticed, so flip again until it takes.
 */
async function openDarkWorkbench(): Promise<Workbench> {
  const wb = await openWorkbench();
  await wb.page.locator('.pane-header').filter({ hasText: 'Pruning: Models' }).waitFor({ timeout: 60_000 });
  const dark = wb.page.locator('.monaco-workbench.vs-dark');
  for (let attempt = 0; attempt < 10 && !(await dark.isVisible()); attempt++) {
    await wb.page.emulateMedia({ colorScheme: 'light' });
    await wb.page.emulateMedia({ colorScheme: 'dark' });
    await dark.waitFor({ timeout: 3_000 }).catch(() => undefined);
  }
  await dark.waitFor({ timeout: 1_000 });
  return wb;
}

/** Opens the report of `model` from the palette and waits for its layer table. */
async function openReport(wb: Workbench, model: string): Promise<FrameLocator> {
  await wb.page.locator('.pane-header').filter({ hasText: 'Pruning: Models' }).waitFor({ timeout: 60_000 });
  await wb.runCommand('Prune Lens: Show Layer Report');
  const input = wb.page.locator('.quick-input-widget input').first();
  await input.fill(model);
  await wb.page.waitForTimeout(300);
  await wb.page.keyboard.press('Enter');
  const frame = wb.webviewFrame();
  await frame.locator('table.layers tbody tr').first().waitFor({ timeout: 60_000 });
  return frame;
}

async function sensitivityTab(frame: FrameLocator): Promise<void> {
  await frame.locator('vscode-tab-header').filter({ hasText: 'Sensitivity' }).click();
}

/** Waits until every curve is drawn, and checks there is one per legend entry. */
async function curves(frame: FrameLocator): Promise<number> {
  const lines = frame.locator('svg.sensitivity g.series > path:not(.hit)');
  await lines.first().waitFor({ timeout: 120_000 });
  const count = await lines.count();
  assert.equal(await frame.locator('.sensitivity-view .legend li').count(), count);
  for (let i = 0; i < count; i++) assert.match((await lines.nth(i).getAttribute('d')) ?? '', /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){9}$/);
  return count;
}

describe('Sensitivity curves in the report webview', function () {
  this.timeout(240_000);
  let wb: Workbench | undefined;
  let settingsFile: string;
  let hadSettings: string | undefined;

  before(() => {
    settingsFile = path.join(uiSession().server.workspace, '.vscode', 'settings.json');
    hadSettings = fs.existsSync(settingsFile) ? fs.readFileSync(settingsFile, 'utf8') : undefined;
    const current = hadSettings ? (JSON.parse(hadSettings) as Record<string, unknown>) : {};
    fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
    fs.writeFileSync(settingsFile, JSON.stringify({ ...current, ...SETTINGS }, null, 2));
  });
  after(() => {
    if (hadSettings === undefined) fs.rmSync(settingsFile, { force: true });
    else fs.writeFileSync(settingsFile, hadSettings);
  });
  afterEach(async () => {
    await wb?.close();
    wb = undefined;
  });

  it('the webview\'s "Run sensitivity analysis" draws a curve per channel group of digits_vgg_slim_s1e-2', async () => {
    wb = await openDarkWorkbench();
    const frame = await openReport(wb, 'digits_vgg_slim_s1e-2.onnx');
    await sensitivityTab(frame);
    await frame.locator('vscode-button').filter({ hasText: 'Run sensitivity analysis' }).click();
    const count = await curves(frame);
    assert.ok(count >= 4, `${count} curves`);
    // The headline says what was measured; the tab's badge counts the curves.
    assert.match((await frame.locator('.sensitivity-view p').first().textContent()) ?? '', /accuracy after pruning each layer alone · unpruned 9\d\.\d%/);
    assert.equal((await frame.locator('vscode-tab-header').filter({ hasText: 'Sensitivity' }).locator('vscode-badge').textContent())?.trim(), String(count));
    await wb.page.waitForTimeout(500);
    // Every curve is drawn in a solid colour: a translucent theme colour would fade into the background.
    const strokes = await frame.locator('svg.sensitivity g.series > path:not(.hit)').evaluateAll((paths) => paths.map((p) => getComputedStyle(p).stroke));
    for (const stroke of strokes) assert.match(stroke, /^(rgb\(\d+, \d+, \d+\)|color\(srgb [\d.]+ [\d.]+ [\d.]+\))$/, `stroke ${stroke} has an alpha`);
    await wb.screenshot('sensitivity-vgg');
  });

  it('"Prune Lens: Sensitivity Analysis" with the report of digits_resnet_slim_s1e-2 open fills its curves', async () => {
    wb = await openDarkWorkbench();
    const frame = await openReport(wb, 'digits_resnet_slim_s1e-2.onnx');
    await sensitivityTab(frame);
    // The palette command acts on the report that has focus: no model pick.
    await wb.runCommand('Prune Lens: Sensitivity Analysis');
    const count = await curves(frame);
    assert.ok(count >= 4, `${count} curves`);
    await wb.page.waitForTimeout(500);
    await wb.screenshot('sensitivity-resnet');
  });
});
