// Prune Lens as a user sees it, in chromium against code-server: the explorer's
// "Prune Model…" (with least-squares recovery on calibration data picked in
// the file dialog), the models view's hovers, the palette's "Global Prune…" and
// the report webview. Each step leaves a screenshot in artifacts/screenshots/.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { uiSession, type Workbench } from '../../../scripts/vscode/workbench';
import { answer, modelsView, notification, openWithPruneLens } from './helpers';

/** The text of the notification that matches (a toast, or an entry of the notification center). */
async function notificationText(wb: Workbench, text: RegExp): Promise<string> {
  return (await (await notification(wb, text)).textContent()) ?? '';
}

describe('Prune Lens in the workbench', function () {
  this.timeout(180_000);
  let wb: Workbench;
  afterEach(async () => {
    await wb?.close();
  });

  it('Explorer › "Prune Model…" on digits_resnet_slim_s1e-2.onnx writes a pruned file that appears in the explorer', async () => {
    wb = await openWithPruneLens();
    await wb.explorerRow('digits_resnet_slim_s1e-2.onnx').waitFor();
    await wb.explorerRow('digits_resnet_slim_s1e-2.onnx').click({ button: 'right' });
    await wb.page.locator('.monaco-menu .action-item').filter({ hasText: /^\s*Prune Model…\s*$/ }).first().waitFor();
    await wb.screenshot('extension-1-explorer-context-menu');
    await wb.page.locator('.monaco-menu .action-item').filter({ hasText: /^\s*Prune Model…\s*$/ }).first().click();

    await answer(wb, 'Structured', /1\/7/); // structure
    await answer(wb, 'BatchNorm', /2\/7/); // method
    await wb.screenshot('extension-1-method-picked');
    await answer(wb, '25%', /3\/7/); // amount
    await answer(wb, 'Local', /4\/7/); // scope
    await answer(wb, 'Least-squares', /5\/7/); // recovery
    // No pruneLens.calibration.data setting: the file picker (code-server's simple dialog) asks.
    await wb.page.locator('.quick-input-widget').filter({ hasText: /Calibration data for least-squares recovery/ }).waitFor();
    await wb.screenshot('extension-1-calibration-picker');
    await answer(wb, path.join(uiSession().server.workspace, 'digits_train_x.npy'));
    await wb.screenshot('extension-1-ignore-layers');
    await answer(wb, undefined, /6\/7/); // ignore none
    await answer(wb, undefined, /7\/7/); // default output name

    const text = await notificationText(wb, /Pruned digits_resnet_slim_s1e-2\.onnx/);
    assert.match(text, /→ digits_resnet_slim_s1e-2\.pruned\.onnx \(removed \d+ channels in \d+ groups? \(\d+ frozen\)(, \d+ more kept by round_to)?; params −\d+(\.\d)?%, MACs −\d+(\.\d)?%\)/);
    for (const action of ['Open Report', 'Validate', 'Reveal in Explorer']) assert.ok(text.includes(action), `no "${action}" in: ${text}`);
    await wb.explorerRow('digits_resnet_slim_s1e-2.pruned.onnx').waitFor({ timeout: 30_000 });
    await wb.screenshot('extension-1-pruned-file-in-explorer');
  });

  it('hovering a layer in "Pruning: Models" shows L1, L2 and gamma figures', async () => {
    wb = await openWithPruneLens();
    const rows = await modelsView(wb);
    // Room for the tree: the file list's pane collapsed, the models view takes the height
    // (with pruned files listed too, the model's rows would start below the fold).
    const files = wb.page.locator('.pane-header').filter({ hasText: /^\W*workspace/i }).first();
    if ((await files.getAttribute('aria-expanded')) === 'true') await files.click();
    const model = rows.filter({ hasText: /^digits_vgg_slim_s1e-2\.onnx/ }).first();
    await model.waitFor();
    // Expand the model and `features`, then the keyboard walks down past `0.0` to `1.0`,
    // keeping the focused row scrolled into the short pane.
    await model.click();
    // Each expansion waits for the rows it brings: a busy machine analyses the model for
    // longer than any fixed pause, and a key pressed before the rows are in goes elsewhere.
    // The click itself may already have expanded the model (the tree's single-click mode);
    // ArrowRight on an expanded row would move to its first child instead.
    await wb.page.waitForTimeout(300);
    if ((await model.getAttribute('aria-expanded')) !== 'true') await wb.page.keyboard.press('ArrowRight');
    // `features` by a click (focus and expansion where the pointer is, whatever the keyboard focus was).
    const features = rows.filter({ hasText: /^\W*features/ }).first();
    await features.waitFor();
    await features.click();
    await wb.page.waitForTimeout(300);
    if ((await features.getAttribute('aria-expanded')) !== 'true') await wb.page.keyboard.press('ArrowRight');
    await rows.filter({ hasText: /^\W*0\.0/ }).first().waitFor();
    for (const key of ['ArrowDown', 'ArrowDown']) {
      await wb.page.keyboard.press(key);
      await wb.page.waitForTimeout(200);
    }
    const layer = rows.filter({ hasText: /^1\.0/ }).first();
    await layer.waitFor();
    assert.match((await layer.textContent()) ?? '', /Conv 32→32 · L1 μ [\d.]+ · γ min/);
    await wb.screenshot('extension-2-models-view');
    // The row clicked to start may have left its own tooltip up; dismiss it so the helper sees only the layer's.
    await wb.page.mouse.move(800, 500);
    await wb.page.keyboard.press('Escape');
    // A tooltip that came up under the resting mouse while the tree expanded can outlive
    // the move: a click on the empty editor area closes it.
    await wb.page.mouse.click(800, 300);
    const hover = await wb.hoverTreeRow(layer);
    await hover.filter({ hasText: 'Lowest L1' }).waitFor();
    const text = (await hover.textContent()) ?? '';
    for (const needle of ['L1', 'L2', 'BN γ', 'gammas', 'Lowest |γ|', 'Default prune']) assert.ok(text.includes(needle), `"${needle}" not in hover: ${text}`);
    await wb.page.waitForTimeout(800); // the hover fades in
    await wb.screenshot('extension-2-layer-hover');
  });

  it('the palette\'s "Global Prune…" completes', async () => {
    wb = await openWithPruneLens();
    await wb.runCommand('Prune Lens: Global Prune…');
    await answer(wb, 'digits_mlp.onnx', /Global Prune/); // which model
    await answer(wb, 'Unstructured', /1\/7/); // the count assumes the default, structured (with its recovery step and, global, how layers compare)
    await answer(wb, 'L2', /2\/5/);
    await answer(wb, '0.4', /3\/5/);
    await answer(wb, undefined, /4\/5/);
    await wb.screenshot('extension-3-output-name');
    await answer(wb, undefined, /5\/5/);
    await notificationText(wb, /Pruned digits_mlp\.onnx → digits_mlp\.pruned\.onnx/);
    await wb.explorerRow('digits_mlp.pruned.onnx').waitFor({ timeout: 30_000 });
    await wb.screenshot('extension-3-global-prune-done');
  });

  it('the report webview renders its layer table and a histogram', async () => {
    wb = await openWithPruneLens();
    await wb.runCommand('Prune Lens: Show Layer Report');
    await answer(wb, 'digits_vgg_slim_s1e-2.onnx', /Show Layer Report/);
    const frame = wb.webviewFrame();
    await frame.locator('table.layers tbody tr').first().waitFor({ timeout: 60_000 });
    assert.equal(await frame.locator('table.layers tbody tr').count(), 6);
    // classifier.3 produces the model's output: the engine never cuts it, and the preview says so.
    const lastRow = frame.locator('table.layers tbody tr', { hasText: 'classifier.3' });
    await lastRow.locator('.frozen-cell').waitFor({ timeout: 30_000 });
    assert.match(await lastRow.locator('.frozen-cell').getAttribute('title') ?? '', /output/);
    await wb.screenshot('extension-4-report-table');
    const histogram = frame.locator('.card.histogram svg').first();
    if (!(await histogram.isVisible())) {
      // The histogram follows the selected layer: pick one.
      await frame.locator('table.layers tbody tr').nth(1).click();
    }
    await histogram.waitFor({ timeout: 30_000 });
    await wb.screenshot('extension-4-report-histogram');
  });
});
