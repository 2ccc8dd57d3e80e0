// Runs the graphql-http package's GraphQL-over-HTTP audits against a live
// server and prints one JSON line: every audit's id, name, status
// (ok | warn | error) and, when not ok, the reason. Usage:
//   node graphql-http-audit.mjs http://127.0.0.1:PORT/graphql [session token]
// With a token, every request carries `Authorization: Bearer <token>` (some
// audits introspect with `__type`, which the api allows staff only).
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url) {
  console.error('usage: node graphql-http-audit.mjs <graphql url> [session token]');
  process.exit(2);
}
const fetchFn = token
  ? (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    }
  : fetch;
const audits = serverAudits({ url, fetchFn });
const results = [];
for (const audit of audits) {
  const result = await audit.fn();
  results.push({
    id: audit.id,
    name: audit.name,
    status: result.status,
    reason: result.status === 'ok' ? undefined : result.reason,
  });
}
console.log(JSON.stringify(results));
