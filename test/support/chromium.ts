/**
 * Headless Chromium for browser tests (the snippet, the dashboard): Debian's `chromium`, driven through
 * playwright-core, which downloads no browser of its own. Installed from Debian on first use when running
 * as root (as on CI); tests never skip when it is missing, they fail saying what to install.
 */
import fs from 'node:fs';
import { installDebianPackage } from '../../infra/stack/prerequisites';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

export function findChromium(): string | undefined {
  return CANDIDATES.find((p) => fs.existsSync(p));
}

export async function ensureChromium(): Promise<string> {
  const found = findChromium();
  if (found) return found;
  await installDebianPackage('chromium', 'or install Chromium at one of ' + CANDIDATES.join(', '));
  const installed = findChromium();
  if (!installed) throw new Error(`chromium was installed but not found at ${CANDIDATES.join(', ')}`);
  return installed;
}
