// Renders media/icon.svg to media/icon.png (256×256), the marketplace icon: vsce
// accepts PNG icons only. Run after editing the SVG: npx tsx scripts/media/render-icon.ts
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumPath } from '../vscode/workbench';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  const svg = fs.readFileSync(path.join(root, 'media/icon.svg'), 'utf8');
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 256, height: 256 } });
    await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
    await page.locator('svg').screenshot({ path: path.join(root, 'media/icon.png'), omitBackground: true });
  } finally {
    await browser.close();
  }
}

void main();
