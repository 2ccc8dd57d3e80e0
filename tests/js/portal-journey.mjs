// The Customer Portal web app in headless Chromium, as a customer uses it.
// Run in phases by the Rust test (tests/e2e/browser.rs), which reads the
// emails in between; the phases share a browser profile (cookies).
//
//   node portal-journey.mjs sign-up <base> <accept path> <profile> <shots> <email> <password>
//     opens the invitation link, signs up, lands on the dashboard (desktop
//     and phone widths), requests two assets, pays the open invoice with the
//     sandbox card, signs out, asks for a password reset.
//   node portal-journey.mjs reset <base> <reset path> <profile> <shots> <new password>
//     opens the reset link, sets the new password, lands on the dashboard.
//
// Prints one JSON object of what the pages showed; the Rust test judges it.
import { join } from 'node:path';
import { answer, run, withBrowser } from './browser.mjs';

const [phase, base, path, profile, shots, ...rest] = process.argv.slice(2);
if (!phase || !base || !path || !profile || !shots) {
  throw new Error('usage: portal-journey.mjs <sign-up|reset> <base> <path> <profile> <shots> …');
}
const TIMEOUT = 20000;

/** What a page shows that the test checks, and its screenshot. */
async function look(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  return {
    url: new URL(page.url()).pathname + new URL(page.url()).search,
    title: await page.title(),
    heading: (await page.textContent('h1'))?.trim() ?? null,
    tags: await page.$$eval('.asset-tag', (cells) => cells.map((c) => c.textContent.trim())),
    text: (await page.textContent('main'))?.replace(/\s+/g, ' ').trim() ?? '',
    // Wider than the window means sideways scrolling.
    overflows: await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth),
    stylesheetApplied: await page.evaluate(() => getComputedStyle(document.body).backgroundColor !== 'rgba(0, 0, 0, 0)'),
  };
}

run(async () => {
  const result = await withBrowser(async (context) => {
    const page = await context.newPage();
    const problems = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    page.setDefaultTimeout(TIMEOUT);
    await page.setViewportSize({ width: 1200, height: 900 });
    const seen = {};

    if (phase === 'sign-up') {
      const [email, password] = rest;
      await page.goto(`${base}${path}`);
      seen.accept = await look(page, '01-accept');
      await page.fill('#name', 'Pat Customer');
      await page.fill('#password', password);
      await page.fill('#password_confirmation', password);
      await Promise.all([page.waitForURL(`${base}/portal`), page.click('main button[type=submit]')]);
      seen.dashboard = await look(page, '02-dashboard');
      await page.setViewportSize({ width: 375, height: 800 });
      seen.phone = await look(page, '03-dashboard-phone');
      await page.setViewportSize({ width: 1200, height: 900 });

      await page.click('main a[href="/portal/requests/new"]');
      await page.waitForURL(`${base}/portal/requests/new`);
      seen.requestForm = await look(page, '04-request-assets');
      await page.fill('#quantity', '2');
      await page.fill('#notes', 'Behind the <kitchen> door');
      await Promise.all([page.waitForURL(/\/portal\/requests\?done=sent/), page.click('main button[type=submit]')]);
      seen.requests = await look(page, '05-requests');
      seen.requestStatuses = await page.$$eval('.request-status', (cells) => cells.map((c) => c.textContent.trim()));

      await page.click('nav a[href="/portal/invoices"]');
      await page.waitForURL(`${base}/portal/invoices`);
      seen.invoices = await look(page, '06-invoices');
      await page.click('main a >> text=INV-1');
      await page.waitForURL(/\/portal\/invoices\/[^/?]+$/);
      seen.invoice = await look(page, '07-invoice');
      await page.fill('#card_token', 'tok_visa');
      await Promise.all([page.waitForURL(/\?paid=/), page.click('main button[type=submit]')]);
      seen.paid = await look(page, '08-invoice-paid');
      seen.paidStatus = (await page.textContent('#invoice-status'))?.trim() ?? null;

      await Promise.all([page.waitForURL(/\/portal\/sign-in/), page.click('nav button')]);
      seen.signedOut = await look(page, '09-signed-out');
      await page.goto(`${base}/portal`);
      seen.afterSignOut = { url: new URL(page.url()).pathname };
      await page.click('text=Forgot your password?');
      await page.waitForURL(/\/portal\/forgot-password/);
      seen.forgot = await look(page, '10-forgot-password');
      await page.fill('#email', email);
      await Promise.all([page.waitForLoadState('load'), page.click('main button[type=submit]')]);
      await page.waitForSelector('text=Check your email');
      seen.checkEmail = await look(page, '11-check-your-email');
    } else if (phase === 'reset') {
      const [password] = rest;
      await page.goto(`${base}${path}`);
      seen.reset = await look(page, '12-reset-password');
      await page.fill('#password', password);
      await page.fill('#password_confirmation', password);
      await Promise.all([page.waitForURL(`${base}/portal`), page.click('main button[type=submit]')]);
      seen.dashboard = await look(page, '13-dashboard-after-reset');
    } else {
      throw new Error(`unknown phase ${phase}`);
    }
    seen.problems = problems;
    return seen;
  }, profile);
  answer(result);
});
