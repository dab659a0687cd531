// A language model in the real workbench: "Pruning: Models" nests
// lm_llama_licenses as layers › 0 › self_attn (8 heads, 2 kv, dim 16) › q_proj,
// with its RMSNorms, and the q_proj hover lists per-head scores.
import * as assert from 'node:assert/strict';
import { openWorkbench, type Workbench } from '../../../scripts/vscode/workbench';

const VIEW = 'Pruning: Models';

describe('transformers in the workbench', function () {
  this.timeout(180_000);
  let wb: Workbench;
  after(async () => {
    await wb?.close();
  });

  it('lm_llama_licenses: layers › 0 › self_attn (8 heads, 2 kv, dim 16) › q_proj, hovered with its per-head scores', async () => {
    wb = await openWorkbench();
    // A wider sidebar, so labels and descriptions are readable in the screenshot.
    await wb.page.setViewportSize({ width: 1600, height: 1000 });
    const header = wb.page.locator('.pane-header').filter({ hasText: VIEW });
    await header.waitFor({ timeout: 60_000 });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    // Give the models view the room: collapse the file list above it.
    const explorer = wb.page.locator('.pane-header').first();
    if ((await explorer.getAttribute('aria-expanded')) === 'true') await explorer.click();
    // Widen the sidebar: drag the sash on its right edge.
    const sidebar = (await wb.page.locator('.part.sidebar').boundingBox())!;
    const sashes = wb.page.locator('.monaco-sash.vertical');
    for (let i = 0; i < (await sashes.count()); i++) {
      const box = await sashes.nth(i).boundingBox();
      if (!box || Math.abs(box.x + box.width / 2 - (sidebar.x + sidebar.width)) > 8) continue;
      await wb.page.mouse.move(box.x + box.width / 2, sidebar.y + 300);
      await wb.page.mouse.down();
      await wb.page.mouse.move(sidebar.x + 700, sidebar.y + 300, { steps: 8 });
      await wb.page.mouse.up();
      break;
    }
    const rows = wb.viewRows(VIEW);
    const model = rows.filter({ hasText: /^lm_llama_licenses\.onnx/ }).first();
    await model.waitFor();
    // Keyboard: expand the model, down past embed_tokens to layers, expand, down to 0, expand,
    // down past input_layernorm to self_attn, expand, down to q_proj.
    await model.click();
    for (const key of ['ArrowRight', 'ArrowDown', 'ArrowDown', 'ArrowRight', 'ArrowDown', 'ArrowRight', 'ArrowDown', 'ArrowDown', 'ArrowRight', 'ArrowDown']) {
      await wb.page.keyboard.press(key);
      await wb.page.waitForTimeout(key === 'ArrowRight' ? 1000 : 250);
    }
    const attn = rows.filter({ hasText: /^self_attn \(8 heads, 2 kv, dim 16\)/ }).first();
    await attn.waitFor();
    const norm = rows.filter({ hasText: /^input_layernorm/ }).first();
    assert.match((await norm.textContent()) ?? '', /RMSNorm 128 \(decomposed\) · γ min [\d.]+/);
    const q = rows.filter({ hasText: /^q_proj/ }).first();
    await q.waitFor();
    assert.match((await q.textContent()) ?? '', /MatMul 128→128 · L1 μ [\d.]+ · 8 heads: L1 min [\d.]+ \(#\d\)/);
    await wb.screenshot('transformers-1-models-view');
    await wb.page.mouse.move(1400, 800);
    await wb.page.keyboard.press('Escape');
    const hover = await wb.hoverTreeRow(q);
    await hover.filter({ hasText: 'Per head' }).waitFor();
    const text = (await hover.textContent()) ?? '';
    for (const needle of ['Per head (8 heads of 16', 'sum over its 16 rows', '#7', 'per token']) assert.ok(text.includes(needle), `"${needle}" not in hover: ${text}`);
    await wb.page.waitForTimeout(800); // the hover fades in
    await wb.screenshot('transformers-2-q_proj-hover');
  });

  it('the report of lm_gpt_licenses: a Heads column with the lowest per-head L1, every head on hover; MACs per token', async () => {
    await wb?.close();
    wb = await openWorkbench();
    await wb.page.setViewportSize({ width: 1600, height: 1000 });
    await wb.page.locator('.pane-header').filter({ hasText: VIEW }).waitFor({ timeout: 60_000 });
    await wb.runCommand('Prune Lens: Show Layer Report');
    const widget = wb.page.locator('.quick-input-widget');
    await widget.waitFor({ state: 'visible' });
    await widget.locator('input').first().fill('lm_gpt_licenses.onnx');
    await wb.page.waitForTimeout(300);
    await wb.page.keyboard.press('Enter');
    const frame = wb.webviewFrame();
    const row = frame.locator('table.layers tbody tr', { hasText: 'h.0.attn.q_proj' });
    await row.waitFor({ timeout: 60_000 });
    assert.equal(await frame.locator('table.layers tbody tr').count(), 25);
    const heads = row.locator('.heads-cell');
    assert.match((await heads.textContent()) ?? '', /^4 × 32 · min [\d.]+$/);
    assert.match((await heads.getAttribute('title')) ?? '', /^Output heads of h\.0\.attn, each the sum over its 32 rows\nL1: #0 [\d.]+, #1 [\d.]+, #2 [\d.]+, #3 [\d.]+\nL2: /);
    assert.match((await frame.locator('.stat', { hasText: 'MACs per token' }).textContent()) ?? '', /819K/);
    await frame.locator('.stat', { hasText: 'attention blocks' }).waitFor();
    await wb.screenshot('transformers-3-report-heads-column');
  });
});
