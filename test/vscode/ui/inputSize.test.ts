// MACs at an input size in the real workbench: yolov8_dyn (dynamic height and
// width) shows in "Pruning: Models" with its MACs at the size of its sample
// data (images 1×3×96×96), its layer hover says where the size came from, and
// the report's summary counts at the same size.
import * as assert from 'node:assert/strict';
import { openWorkbench, type Workbench } from '../../../scripts/vscode/workbench';

const VIEW = 'Pruning: Models';

describe('MACs at an input size in the workbench', function () {
  this.timeout(180_000);
  let wb: Workbench;
  after(async () => {
    await wb?.close();
  });

  it('yolov8_dyn: the models view, a layer hover and the report show MACs at images 1×3×96×96 (its sample data)', async () => {
    wb = await openWorkbench();
    await wb.page.setViewportSize({ width: 1600, height: 1000 });
    const header = wb.page.locator('.pane-header').filter({ hasText: VIEW });
    await header.waitFor({ timeout: 60_000 });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    const explorer = wb.page.locator('.pane-header').first();
    if ((await explorer.getAttribute('aria-expanded')) === 'true') await explorer.click();
    // Widen the sidebar (drag the sash on its right edge), so the descriptions are readable.
    const sidebar = (await wb.page.locator('.part.sidebar').boundingBox())!;
    const sashes = wb.page.locator('.monaco-sash.vertical');
    for (let i = 0; i < (await sashes.count()); i++) {
      const box = await sashes.nth(i).boundingBox();
      if (!box || Math.abs(box.x + box.width / 2 - (sidebar.x + sidebar.width)) > 8) continue;
      await wb.page.mouse.move(box.x + box.width / 2, sidebar.y + 300);
      await wb.page.mouse.down();
      await wb.page.mouse.move(sidebar.x + 640, sidebar.y + 300, { steps: 8 });
      await wb.page.mouse.up();
      break;
    }
    const rows = wb.viewRows(VIEW);
    const model = rows.filter({ hasText: /^yolov8_dyn\.onnx/ }).first();
    await model.waitFor();
    await model.click();
    await wb.page.keyboard.press('ArrowRight');
    await rows.filter({ hasText: /MACs [\d.]+M at images 1×3×96×96/ }).first().waitFor({ timeout: 60_000 });
    assert.match((await model.textContent()) ?? '', /^yolov8_dyn\.onnx.*MACs [\d.]+M at images 1×3×96×96/);
    // The first layer under the model.
    await wb.page.keyboard.press('ArrowDown');
    await wb.page.waitForTimeout(300);
    const layer = rows.filter({ hasText: /Conv \d+→\d+/ }).first();
    await layer.waitFor();
    await wb.screenshot('input-size-1-models-view');
    await wb.page.mouse.move(1400, 800);
    await wb.page.keyboard.press('Escape');
    const hover = await wb.hoverTreeRow(layer);
    await hover.filter({ hasText: 'MACs per sample at' }).waitFor();
    const text = (await hover.textContent()) ?? '';
    for (const needle of ['MACs per sample at images 1×3×96×96, from the size of yolov8_dyn_input.npy', 'Per sample MACs =']) {
      assert.ok(text.includes(needle), `"${needle}" not in hover: ${text}`);
    }
    await wb.page.waitForTimeout(800); // the hover fades in
    await wb.screenshot('input-size-2-layer-hover');

    await wb.page.keyboard.press('Escape');
    await wb.runCommand('Prune Lens: Show Layer Report');
    const widget = wb.page.locator('.quick-input-widget');
    await widget.waitFor({ state: 'visible' });
    await widget.locator('input').first().fill('yolov8_dyn.onnx');
    await wb.page.waitForTimeout(300);
    await wb.page.keyboard.press('Enter');
    const frame = wb.webviewFrame();
    const stat = frame.locator('.stat', { hasText: 'MACs at images 1×3×96×96' });
    await stat.waitFor({ timeout: 60_000 });
    assert.match((await stat.textContent()) ?? '', /^[\d.]+M/);
    assert.match((await frame.locator('.size-note').textContent()) ?? '', /^MACs per sample at images 1×3×96×96, from the size of yolov8_dyn_input\.npy\.$/);
    await frame.locator('table.layers tbody tr').first().waitFor();
    await wb.screenshot('input-size-3-report');
  });
});
