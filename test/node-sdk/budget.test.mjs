// The official OpenAI Node SDK, with its default retries (maxRetries 2), against keys the relay refuses: a spent
// budget (429 insufficient_quota with x-should-retry: false) and, for contrast, a rate limit (429
// rate_limit_exceeded with Retry-After). A fetch wrapper counts the HTTP attempts the SDK makes. Run by
// test/OpenAiRelay.Tests/Sdk/NodeSdkBudgetTests.cs, which prepares the keys; configured only by environment:
//   OPENAI_BASE_URL            the relay, e.g. http://127.0.0.1:5000/v1
//   OPENAI_API_KEY             a key whose budget is spent
//   RELAY_RATE_LIMITED_KEY     a key with max_concurrent 1 whose one slot is held (Retry-After: 1)
//   RELAY_TEST_ID              sent as x-test-id, so the caller can count what reached the fake upstream
// Without RELAY_RATE_LIMITED_KEY (e.g. `node --test test/node-sdk/` with an ordinary key) both tests are skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError, RateLimitError } from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
const spentKey = process.env.OPENAI_API_KEY;
const rateLimitedKey = process.env.RELAY_RATE_LIMITED_KEY;
const testId = process.env.RELAY_TEST_ID ?? 'node-sdk-budget';
const prepared = baseURL && spentKey && rateLimitedKey
  ? {}
  : { skip: 'needs OPENAI_BASE_URL, OPENAI_API_KEY (spent budget) and RELAY_RATE_LIMITED_KEY (see NodeSdkBudgetTests.cs)' };

// The SDK's defaults (maxRetries 2, its own backoff), with every HTTP attempt counted on its way out.
function countingClient(apiKey) {
  const attempts = [];
  const client = new OpenAI({
    baseURL,
    apiKey,
    timeout: 30_000,
    defaultHeaders: { 'x-test-id': testId },
    fetch: async (url, init) => {
      const response = await globalThis.fetch(url, init);
      attempts.push({ status: response.status, shouldRetry: response.headers.get('x-should-retry'), retryAfter: response.headers.get('retry-after') });
      return response;
    },
  });
  return { client, attempts };
}

const chat = (client) => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

test('a spent budget: 429 insufficient_quota, x-should-retry false, exactly one attempt', prepared, async () => {
  const { client, attempts } = countingClient(spentKey);
  assert.equal(client.maxRetries, 2);
  const error = await chat(client).then(() => assert.fail('the request was admitted'), (e) => e);
  assert.ok(error instanceof APIError, `not an APIError: ${error}`);
  assert.equal(error.status, 429);
  assert.equal(error.code, 'insufficient_quota');
  assert.equal(error.type, 'insufficient_quota');
  assert.deepEqual(attempts, [{ status: 429, shouldRetry: 'false', retryAfter: null }]);
  console.log(`# budget attempts: ${attempts.length}`);
});

test('for contrast, a rate limit: 429 rate_limit_exceeded with Retry-After is retried (1 + maxRetries attempts)', prepared, async () => {
  const { client, attempts } = countingClient(rateLimitedKey);
  const started = Date.now();
  const error = await chat(client).then(() => assert.fail('the request was admitted'), (e) => e);
  assert.ok(error instanceof RateLimitError, `not a RateLimitError: ${error}`);
  assert.equal(error.code, 'rate_limit_exceeded');
  assert.equal(attempts.length, 3);
  for (const attempt of attempts) {
    assert.deepEqual(attempt, { status: 429, shouldRetry: null, retryAfter: '1' });
  }
  // It waited the Retry-After second between attempts.
  assert.ok(Date.now() - started >= 1_900, `retried after ${Date.now() - started} ms`);
  console.log(`# rate-limit attempts: ${attempts.length}`);
});
