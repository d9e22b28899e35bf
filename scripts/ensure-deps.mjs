#!/usr/bin/env node
// Makes `npm test` and `npm start` work as the first command on a fresh clone: installs the npm packages
// when node_modules is missing or older than package-lock.json, and finds (as root: installs) Chromium.
// Only Node built-ins here: nothing else is installed yet when this runs.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const CHROMIUMS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];
const run = (cmd) => execSync(cmd, { stdio: 'inherit' });

const stamp = 'node_modules/.package-lock.json';
if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync('package-lock.json').mtimeMs) {
  console.log('[ensure-deps] installing npm packages (npm ci)…');
  run('npm ci --no-audit --no-fund');
}

const hasChromium = () =>
  (process.env.CHROME_PATH && existsSync(process.env.CHROME_PATH)) || CHROMIUMS.some((p) => existsSync(p));
if (!hasChromium()) {
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.log("[ensure-deps] installing Debian's chromium (apt-get)…");
    run('apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium');
  } else {
    console.error(
      '[ensure-deps] No Chromium found. Install it: sudo apt-get install -y chromium   (or set CHROME_PATH)',
    );
    process.exit(1);
  }
}
