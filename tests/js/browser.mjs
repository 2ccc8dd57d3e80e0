// Headless Chromium for the end-to-end tests: Debian's /usr/bin/chromium
// driven by playwright-core, started with the flags this closed network
// needs (no background connections, no QUIC) and a fresh profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * Runs `body(browser)` in a headless Chromium; always closes it. The profile
 * (cookies included) is fresh and removed afterwards, unless `keepProfile`
 * names a directory to use and keep, so that several runs share a session.
 */
export async function withBrowser(body, keepProfile) {
  const profile = keepProfile || mkdtempSync(join(tmpdir(), 'portal-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: EXECUTABLE,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    return await body(context);
  } finally {
    await context.close();
    if (!keepProfile) rmSync(profile, { recursive: true, force: true });
  }
}

/** Prints `value` as the script's one line of JSON output. */
export function answer(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** Runs `main`, turning a failure into a non-zero exit with its message. */
export function run(main) {
  main().catch((error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  });
}
