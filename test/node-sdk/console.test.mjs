// The official OpenAI Node SDK with a key created in the web console (test/OpenAiRelay.Tests/AdminConsole/Browser):
// the browser test copies the secret the page showed once and runs this script at each step of the key's life.
// Configured only by environment:
//   OPENAI_BASE_URL          the relay, e.g. http://127.0.0.1:5000/v1
//   OPENAI_API_KEY           the key from the console
//   RELAY_CONSOLE_EXPECT     ok (RELAY_CONSOLE_REQUESTS chat completions succeed), quota (429 insufficient_quota:
//                            the budget set in the console is spent) or revoked (401: revoked in the console)
//   RELAY_CONSOLE_USAGE      sent as x-fake-usage, the usage the fake upstream reports (test/FakeOpenAi)
//   RELAY_TEST_ID            sent as x-test-id
// Without RELAY_CONSOLE_EXPECT (e.g. `node --test test/node-sdk/`) the test is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { AuthenticationError, RateLimitError } from 'openai';

const expect = process.env.RELAY_CONSOLE_EXPECT;
const requests = Number.parseInt(process.env.RELAY_CONSOLE_REQUESTS ?? '1', 10);
const headers = { 'x-test-id': process.env.RELAY_TEST_ID ?? 'node-sdk-console' };
if (process.env.RELAY_CONSOLE_USAGE) {
  headers['x-fake-usage'] = process.env.RELAY_CONSOLE_USAGE;
}
const prepared = expect ? {} : { skip: 'needs RELAY_CONSOLE_EXPECT and a key from the web console (see AdminConsole/Browser)' };

// No retries: every answer is the relay's first, so a refusal shows as it is.
const client = () => new OpenAI({ maxRetries: 0, timeout: 30_000, defaultHeaders: headers });
const chat = () => client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

test(`a key from the web console: ${expect}`, prepared, async () => {
  if (expect === 'ok') {
    for (let i = 0; i < requests; i++) {
      const completion = await chat();
      assert.equal(completion.object, 'chat.completion');
      assert.ok(completion.choices[0].message.content.length > 0);
    }
    console.log(`# completed: ${requests}`);
  } else if (expect === 'quota') {
    const error = await chat().then(() => assert.fail('the request was admitted'), (e) => e);
    assert.ok(error instanceof RateLimitError, `not a RateLimitError: ${error}`);
    assert.equal(error.code, 'insufficient_quota');
    console.log('# refused: insufficient_quota');
  } else if (expect === 'revoked') {
    const error = await chat().then(() => assert.fail('the request was admitted'), (e) => e);
    assert.ok(error instanceof AuthenticationError, `not an AuthenticationError: ${error}`);
    assert.equal(error.status, 401);
    console.log('# refused: 401');
  } else {
    assert.fail(`RELAY_CONSOLE_EXPECT must be ok, quota or revoked, not ${expect}`);
  }
});
