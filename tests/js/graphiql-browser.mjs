// The staff GraphiQL console in headless Chromium, as a new staff user uses
// it: open /graphql, sign in on the "StaffLogin" tab, open Docs, run the
// "Accounts" tab. Prints one JSON object of what the page showed; the Rust
// test (tests/e2e/browser.rs) judges it.
//
// Usage: node graphiql-browser.mjs <api base url> <email> <password> <screenshot.png>
import { answer, run, withBrowser } from './browser.mjs';

const [base, email, password, screenshot] = process.argv.slice(2);
if (!base || !email || !password || !screenshot) {
  throw new Error('usage: graphiql-browser.mjs <api base url> <email> <password> <screenshot.png>');
}
const TIMEOUT = 20000;

run(async () => {
  const result = await withBrowser(async (context) => {
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));
    // Every request the page makes, to check where the token went.
    const requests = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/graphql')) {
        const body = request.postDataJSON() || {};
        requests.push({
          authorization: request.headers().authorization || null,
          introspection: String(body.query || '').includes('__schema'),
          operationName: body.operationName || null,
        });
      }
    });

    await page.goto(`${base}/graphql`);
    await page.waitForSelector('.graphiql-container', { timeout: TIMEOUT });
    const tabs = await page.$$eval('.graphiql-tab-button', (buttons) => buttons.map((b) => b.textContent.trim()));

    // The editors are CodeMirror 5 instances: set and read them directly.
    const setEditor = (selector, value) =>
      page.$eval(selector, (element, text) => element.CodeMirror.setValue(text), value);
    const response = () => page.$eval('.result-window .CodeMirror', (element) => element.CodeMirror.getValue());
    const execute = async () => {
      await page.$eval('.result-window .CodeMirror', (element) => element.CodeMirror.setValue(''));
      await page.click('.graphiql-execute-button');
      // Wait until the response editor shows the answer to this run.
      await page.waitForFunction(
        () => {
          const text = document.querySelector('.result-window .CodeMirror').CodeMirror.getValue();
          return text.includes('"data"') || text.includes('"errors"');
        },
        null,
        { timeout: TIMEOUT },
      );
      return JSON.parse(await response());
    };

    // Sign in: the first tab is "StaffLogin"; fill its variables and run it.
    await page.click('.graphiql-tab-button >> text=StaffLogin');
    await page.click('.graphiql-editor-tools button:text-is("Variables")');
    await setEditor(
      '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror',
      JSON.stringify({ email, password }),
    );
    const signIn = await execute();

    // The Docs explorer, once the schema is loaded again as staff.
    await page.click('[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer', { timeout: TIMEOUT });
    let docs = '';
    try {
      await page.waitForFunction(
        () => {
          const explorer = document.querySelector('.graphiql-doc-explorer');
          return explorer && explorer.textContent.includes('Root Types');
        },
        null,
        { timeout: TIMEOUT },
      );
      // "All Schema Types" lists every type by name.
      docs = await page.$eval('.graphiql-doc-explorer', (element) => element.textContent);
      await page.click('.graphiql-doc-explorer a:text-is("Query")');
      await page.waitForSelector('.graphiql-doc-explorer-title:text-is("Query")', { timeout: TIMEOUT });
      docs += '\n' + (await page.$eval('.graphiql-doc-explorer', (element) => element.textContent));
    } catch (error) {
      docs = `(no schema in Docs: ${error.message}) ` +
        (await page.$eval('.graphiql-doc-explorer', (element) => element.textContent));
    }

    // The Accounts tab, as README shows it.
    await page.click('.graphiql-tab-button >> text=Accounts');
    // GraphiQL reads the operation's name from the editor after a short
    // debounce; a person never clicks Run within it, a script can.
    await page.waitForTimeout(1000);
    await page.waitForFunction(
      () => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue().includes('query Accounts'),
      null,
      { timeout: TIMEOUT },
    );
    const accounts = await execute();
    await page.screenshot({ path: screenshot });
    return { tabs, signIn, docs, accounts, requests, consoleErrors };
  });
  answer(result);
});
