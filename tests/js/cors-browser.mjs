// CORS as a browser enforces it: a page served from another loopback origin
// calls the api with `fetch` (JSON body and an Authorization header, so the
// browser sends a preflight first). Serves the same page on two ports; the
// api allows only the first. Prints one JSON object: what each page's fetch
// got. The Rust test (tests/e2e/browser.rs) judges it.
//
// Usage: node cors-browser.mjs <api graphql url> <token> <allowed port> <other port>
import { createServer } from 'node:http';
import { answer, run, withBrowser } from './browser.mjs';

const [graphqlUrl, token, allowedPort, otherPort] = process.argv.slice(2);
if (!graphqlUrl || !token || !allowedPort || !otherPort) {
  throw new Error('usage: cors-browser.mjs <api graphql url> <token> <allowed port> <other port>');
}

// The page: no script of its own beyond what the test evaluates in it.
const PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>frontend</title></head><body>frontend</body></html>';

function serve(port) {
  return new Promise((resolve, reject) => {
    const server = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(PAGE);
    });
    server.on('error', reject);
    server.listen(Number(port), '127.0.0.1', () => resolve(server));
  });
}

// What a frontend does: POST a query with its bearer token, read the body
// and the exposed x-request-id.
async function callFrom(context, port) {
  const page = await context.newPage();
  const consoleMessages = [];
  page.on('console', (message) => consoleMessages.push(message.text()));
  await page.goto(`http://127.0.0.1:${port}/`);
  const outcome = await page.evaluate(
    async ({ url, bearer }) => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
          body: JSON.stringify({ query: '{ viewer { __typename } }' }),
        });
        return {
          ok: true,
          status: response.status,
          requestId: response.headers.get('x-request-id'),
          body: await response.json(),
        };
      } catch (error) {
        return { ok: false, error: String(error) };
      }
    },
    { url: graphqlUrl, bearer: token },
  );
  await page.close();
  return { origin: `http://127.0.0.1:${port}`, ...outcome, console: consoleMessages };
}

run(async () => {
  const servers = [await serve(allowedPort), await serve(otherPort)];
  try {
    const result = await withBrowser(async (context) => ({
      allowed: await callFrom(context, allowedPort),
      other: await callFrom(context, otherPort),
    }));
    answer(result);
  } finally {
    servers.forEach((server) => server.close());
  }
});
