// Copies uPlot's browser build from node_modules (pinned by package-lock.json) into ../wwwroot/assets/vendor/,
// byte for byte. Run after changing the version: `npm ci && npm run vendor` (in this folder), then commit both.
// VendoredAssetsTests checks that the committed copies equal node_modules/uplot/dist/.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, '..', 'wwwroot', 'assets', 'vendor');
mkdirSync(target, { recursive: true });
for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) {
  copyFileSync(join(here, 'node_modules', 'uplot', 'dist', file), join(target, file));
  console.log(`copied ${file}`);
}
