// Helpers for UI tests (test/vscode/ui/*.test.ts): a Playwright page on the real
// workbench served by code-server, with the extension under development loaded.
// The harness (scripts/vscode/run.ts) starts code-server and the browser and hands
// them over through `setUiSession`; tests only call `openWorkbench()`.
//
// Selectors follow /work/shared/docs/real-vscode-testing.md (checked on VS Code 1.10x).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { type CodeServer, developmentPayload } from './codeServer';

const TIMEOUT_MS = 30_000;

export interface UiSession {
  server: CodeServer;
  browser: Browser;
  screenshotDir: string;
  /** Workbenches not yet closed; the harness screenshots them when a test fails. */
  open: Set<Workbench>;
  /**
   * Set when the suite runs against a .vsix installed into code-server's extensions folder
   * (run.ts --installed): the folder it was installed into. Windows then load no
   * development path.
   */
  installed?: string;
  /** The running UI test, set by the harness, so a window closed by a failing test's hook can still be captured. */
  currentTest?: { state?: string; fullTitle(): string };
}

// Kept on globalThis: the harness and the test files may load this module through
// different loaders (tsx's require and import), which would make two copies.
const sessionKey = Symbol.for('prune-lens.vscode-ui-session');

export function setUiSession(session: UiSession | undefined): void {
  (globalThis as Record<symbol, unknown>)[sessionKey] = session;
}

export function uiSession(): UiSession {
  const s = (globalThis as Record<symbol, unknown>)[sessionKey] as UiSession | undefined;
  if (!s) throw new Error('no UI session: run UI tests through the harness (npx tsx scripts/vscode/run.ts --ui)');
  return s;
}

/** Debian's chromium; the binary itself rather than /usr/bin's wrapper script. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium'];
  const found = candidates.find((p): p is string => !!p && fs.existsSync(p));
  if (!found) throw new Error('chromium not found (apt-get install chromium, or set CHROMIUM_PATH); run: bash scripts/bootstrap.sh');
  return found;
}

/** Headless chromium; HOME and XDG point into `dir` so nothing lands in ~. */
export async function launchBrowser(dir: string): Promise<Browser> {
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
  });
}

/**
 * A page in a browser context of its own. The workbench keeps its layout (collapsed
 * sections, the open view, editors) in the browser's storage; a fresh context per window
 * means no test inherits the layout an earlier one left behind.
 */
export async function newWindow(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  return page;
}

/**
 * Opens a new workbench window on the sample workspace with Prune Lens loaded: from this
 * checkout as the extension under development, or the installed copy (--installed).
 */
export async function openWorkbench(): Promise<Workbench> {
  const s = uiSession();
  const page = await newWindow(s.browser);
  const wb = new Workbench(page, s);
  s.open.add(wb);
  await page.goto(s.server.workbenchUrl(s.installed ? [] : [developmentPayload(s.server)]));
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  // The explorer lists the workspace once the remote connection and file service are up.
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
  return wb;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exactly = (s: string) => new RegExp(`^\\s*${escapeRegExp(s)}\\s*$`);

export class Workbench {
  private failureCaptured?: unknown;

  constructor(readonly page: Page, private readonly session: UiSession) {}

  /**
   * F1, type the command's title, and pick it. `title` is the title as contributed
   * ("Global Prune…") or as the palette shows it with its category ("Prune Lens: Global Prune…").
   */
  async runCommand(title: string): Promise<void> {
    const { page } = this;
    // F1 must reach the workbench, not a webview iframe or an input that holds focus. Blur
    // rather than click somewhere: a click could land on an editor and change it.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(`>${title}`);
    const label = new RegExp(`^\\s*(?:[^:]+: )?${escapeRegExp(title)}\\s*$`);
    // Not simply Enter: the palette may rank a longer, recently used title first.
    await page
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: label }) })
      .first()
      .click();
  }

  /** The explorer row whose label is exactly `name` (not a longer name that contains it). */
  explorerRow(name: string): Locator {
    return this.page
      .locator('.explorer-folders-view .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exactly(name) }) });
  }

  /** Clicks a file in the explorer, which opens it in its default editor. */
  async openFile(name: string): Promise<void> {
    await this.explorerRow(name).click();
  }

  /** Right-clicks an explorer item and picks the context-menu entry titled `entry`. */
  async explorerContextMenu(name: string, entry: string): Promise<void> {
    await this.explorerRow(name).click({ button: 'right' });
    const label = this.page.locator('.monaco-menu .action-item .action-label', { hasText: exactly(entry) });
    await label.first().click();
  }

  /** Rows of a contributed view, found by the title in its pane header. */
  viewRows(viewTitle: string): Locator {
    const pane = this.page.locator('.pane').filter({ has: this.page.locator('.pane-header', { hasText: viewTitle }) });
    return pane.locator('.monaco-list-row');
  }

  /** Hovers `target` (an activity-bar icon, a button) and returns the visible hover widget. */
  async hover(target: Locator): Promise<Locator> {
    const widget = this.page.locator('.monaco-hover').filter({ visible: true }).first();
    // A hover still showing for wherever the mouse was before (a tab, a palette row) must
    // not be taken for this one: move away and let it go first.
    // The workbench only shows a hover for a mouse that has come to rest on the target;
    // a pointer event lost while the window is busy (an editor opening) leaves none. So
    // try a few times, each from outside, before giving up.
    for (let attempt = 1; ; attempt++) {
      await this.page.mouse.move(0, 0);
      await widget.waitFor({ state: 'hidden' });
      await target.hover();
      try {
        await widget.waitFor({ timeout: attempt < 3 ? 8_000 : TIMEOUT_MS });
        return widget;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  }

  /**
   * Hovers a tree row (explorer or contributed view) and returns its hover widget. The
   * hover belongs to the row's label, not the empty space right of it.
   */
  async hoverTreeRow(row: Locator): Promise<Locator> {
    return this.hover(row.locator('.label-name').first());
  }

  /** Waits for a notification toast containing `text` and returns it. */
  async waitForNotification(text: string | RegExp, timeout = TIMEOUT_MS): Promise<Locator> {
    const toast = this.page.locator('.notifications-toasts .notification-toast').filter({ hasText: text }).first();
    await toast.waitFor({ timeout });
    return toast;
  }

  /**
   * The document inside a webview (webviews sit in two nested iframes). With several
   * webviews open, the most recently created one.
   */
  webviewFrame(): FrameLocator {
    return this.page.frameLocator('iframe.webview').last().frameLocator('iframe');
  }

  /** Saves artifacts/screenshots/<name>.png and returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(this.session.screenshotDir, { recursive: true });
    const file = path.join(this.session.screenshotDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** FAILED-<test title>.png, once per failing test, if the running test has failed. */
  async captureIfFailed(): Promise<void> {
    const t = this.session.currentTest;
    if (t?.state !== 'failed' || this.failureCaptured === t || this.page.isClosed()) return;
    this.failureCaptured = t;
    await this.screenshot(`FAILED-${t.fullTitle()}`).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.captureIfFailed();
    this.session.open.delete(this);
    await this.page.context().close();
  }
}
