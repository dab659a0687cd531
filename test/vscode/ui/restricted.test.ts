// Restricted mode: in a workspace the user does not trust, Prune Lens still
// analyses models (the report webview renders), but validation and sensitivity
// analysis, which would load onnxruntime (native code), are refused with a
// "Manage Workspace Trust" action.
// Runs its own code-server with workspace trust on; the shared one has it off.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CodeServer, developmentPayload, startCodeServer } from '../../../scripts/vscode/codeServer';
import { createSampleWorkspace } from '../../../scripts/vscode/sampleWorkspace';
import { newWindow, uiSession, Workbench } from '../../../scripts/vscode/workbench';

describe('Prune Lens in a restricted workspace', function () {
  this.timeout(240_000);
  let tmp: string;
  let server: CodeServer | undefined;
  let wb: Workbench | undefined;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-restricted-'));
    const workspace = path.join(tmp, 'workspace');
    createSampleWorkspace(workspace);
    server = await startCodeServer({ stateDir: path.join(tmp, 'code-server'), workspace, workspaceTrust: true });
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('analyses, but asks for trust before validating', async () => {
    const session = { ...uiSession(), server: server! };
    wb = new Workbench(await newWindow(session.browser), session);
    session.open.add(wb);
    const { page } = wb;
    await page.goto(server!.workbenchUrl([developmentPayload(server!)]));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // code-server opens an untrusted folder straight in Restricted Mode (banner and status bar item).
    await page.locator('.statusbar-item').filter({ hasText: 'Restricted Mode' }).first().waitFor({ timeout: 60_000 });
    await wb.screenshot('restricted-1-restricted-mode');
    await page.locator('.pane-header').filter({ hasText: 'Pruning: Models' }).waitFor({ timeout: 60_000 });

    await wb.runCommand('Prune Lens: Validate Pruned Model');
    const toast = page.locator('.notification-toast, .notifications-center .notification-list-item').filter({ hasText: /disabled until you trust this workspace/ }).first();
    await toast.waitFor({ timeout: 30_000 }).catch(async () => {
      await page.locator('.statusbar-item').filter({ has: page.locator('.codicon-bell, .codicon-bell-dot') }).first().click();
      await toast.waitFor({ timeout: 10_000 });
    });
    const text = (await toast.textContent()) ?? '';
    assert.match(text, /Validation runs native code \(onnxruntime\)/);
    assert.match(text, /Manage Workspace Trust/);
    // One message, not the warning plus a generic error.
    assert.equal(await page.locator('.notification-toast, .notifications-center .notification-list-item').filter({ hasText: /trust this workspace/ }).count(), 1);
    await wb.screenshot('restricted-2-validation-refused');

    // Sensitivity analysis runs onnxruntime too: refused the same way, before any question is asked.
    await wb.runCommand('Prune Lens: Sensitivity Analysis');
    const sensitivity = page.locator('.notification-toast, .notifications-center .notification-list-item').filter({ hasText: /Sensitivity analysis runs native code \(onnxruntime\)/ }).first();
    await sensitivity.waitFor({ timeout: 30_000 }).catch(async () => {
      await page.locator('.statusbar-item').filter({ has: page.locator('.codicon-bell, .codicon-bell-dot') }).first().click();
      await sensitivity.waitFor({ timeout: 10_000 });
    });
    await wb.screenshot('restricted-3-sensitivity-refused');

    await wb.runCommand('Prune Lens: Show Layer Report');
    await page.locator('.quick-input-widget input').first().fill('digits_vgg_slim_s1e-2.onnx');
    await page.waitForTimeout(300);
    await page.keyboard.press('Enter');
    await wb.webviewFrame().locator('table.layers tbody tr').first().waitFor({ timeout: 60_000 });
    assert.equal(await wb.webviewFrame().locator('table.layers tbody tr').count(), 6);
    await wb.screenshot('restricted-4-analysis-works');
  });
});
