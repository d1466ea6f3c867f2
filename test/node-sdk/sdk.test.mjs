// The official OpenAI Node SDK as a real client of whatever OPENAI_BASE_URL points at: the relay (with the fake
// upstream behind it) or the fake upstream directly. Configured only by environment:
//   OPENAI_BASE_URL      e.g. http://127.0.0.1:5000/v1
//   OPENAI_API_KEY       the key that endpoint accepts
//   FAKE_UPSTREAM_HINTS  "1" when test/FakeOpenAi answers in the end: enables exact-content checks and the
//                        x-fake-* fault headers (which the relay forwards verbatim).
// Run: node --test test/node-sdk/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import OpenAI, { toFile, APIError, APIUserAbortError, AuthenticationError, RateLimitError } from 'openai';
import WebSocket from 'ws';

const baseURL = process.env.OPENAI_BASE_URL;
const apiKey = process.env.OPENAI_API_KEY;
if (!baseURL || !apiKey) {
  throw new Error('Set OPENAI_BASE_URL (…/v1) and OPENAI_API_KEY to run the Node SDK tests.');
}

const fake = process.env.FAKE_UPSTREAM_HINTS === '1';
const onlyFake = fake ? {} : { skip: 'needs FAKE_UPSTREAM_HINTS=1 (fault headers of test/FakeOpenAi)' };
const chatModel = process.env.OPENAI_TEST_MODEL ?? 'gpt-4o-mini';

// Per-request x-fake-* headers, sent only to the fake: they pin the reply length so exact-text checks do not
// depend on how the fake was started.
const hints = (headers) => (fake ? { headers } : undefined);
const fiveWords = { 'x-fake-events': '5' };

// Retries off: a retried request would hide a relay that answers wrongly the first time.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// FakeContent.Bytes(offset, count) of test/FakeOpenAi, for offsets below 2^32.
function fakeContent(offset, count) {
  const bytes = Buffer.allocUnsafe(count);
  for (let i = 0; i < count; i++) {
    const p = offset + i;
    const v = (p ^ (p >>> 8) ^ (p >>> 16) ^ (p >>> 24)) & 0xff;
    bytes[i] = (v * 167 + 13) & 0xff;
  }
  return bytes;
}

test('models.list returns models', async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    ids.push(model.id);
  }
  assert.ok(ids.length > 0, 'no models listed');
  if (fake) {
    assert.ok(ids.includes('gpt-4o-mini'), `gpt-4o-mini missing from ${ids}`);
  }
});

test('chat completion (JSON) returns text, usage and a request id', async () => {
  const { data, request_id } = await client.chat.completions
    .create({ model: chatModel, messages: [{ role: 'user', content: 'hello relay world' }] }, hints(fiveWords))
    .withResponse();
  const content = data.choices[0].message.content;
  assert.ok(content && content.length > 0);
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
  assert.ok(request_id, 'x-request-id was not passed through');
  if (fake) {
    assert.match(request_id, /^req_[0-9a-f]{32}$/);
    assert.equal(content, 'Fake reply to: hello relay');
    assert.equal(data.usage.completion_tokens, 5);
  }
});

test('streaming chat arrives as several chunks with a final usage chunk', async () => {
  const stream = await client.chat.completions.create(
    {
      model: chatModel,
      messages: [{ role: 'user', content: 'stream me some words please' }],
      stream: true,
      stream_options: { include_usage: true },
    },
    hints({ 'x-fake-events': '8' }),
  );
  let text = '';
  let chunks = 0;
  let usage = null;
  let finishReason = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) {
      assert.equal(chunk.choices.length, 0, 'usage chunk must have empty choices');
      usage = chunk.usage;
    }
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? '';
      finishReason = choice.finish_reason ?? finishReason;
    }
  }
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.equal(finishReason, 'stop');
  assert.ok(usage, 'no usage chunk with include_usage');
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  if (fake) {
    // role chunk + 8 deltas + finish chunk + usage chunk
    assert.equal(chunks, 11);
    assert.equal(text, 'Fake reply to: stream me some words please');
    assert.equal(usage.completion_tokens, 8);
  }
});

test('legacy completions (JSON)', async () => {
  const completion = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test' });
  assert.ok(completion.choices[0].text.length > 0);
  assert.ok(completion.usage.total_tokens > 0);
});

test('responses.create (JSON) returns output_text and usage', async () => {
  const response = await client.responses.create({ model: chatModel, input: 'describe the relay' }, hints(fiveWords));
  assert.equal(response.status, 'completed');
  assert.ok(response.output_text.length > 0);
  assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
  if (fake) {
    assert.equal(response.output_text, 'Fake reply to: describe the');
  }
});

test('responses.stream delivers ordered events and a completed response', async () => {
  const stream = client.responses.stream(
    { model: chatModel, input: 'count the events' },
    hints({ 'x-fake-events': '6' }),
  );
  const sequence = [];
  let deltas = '';
  for await (const event of stream) {
    sequence.push(event.sequence_number);
    if (event.type === 'response.output_text.delta') {
      deltas += event.delta;
    }
  }
  const final = await stream.finalResponse();
  assert.equal(final.status, 'completed');
  assert.equal(final.output_text, deltas);
  assert.ok(final.usage.output_tokens > 0);
  assert.equal(sequence[0], 0, 'sequence_number starts at 0');
  sequence.forEach((n, i) => assert.equal(n, i, 'sequence_number increases by one'));
  if (fake) {
    assert.equal(deltas, 'Fake reply to: count the events');
  }
});

test('embeddings (SDK default base64) decode to unit vectors', async () => {
  const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello', 'world'] });
  assert.equal(result.data.length, 2);
  assert.ok(result.usage.prompt_tokens > 0);
  const vector = result.data[0].embedding;
  assert.ok(vector.length > 0);
  if (fake) {
    assert.equal(vector.length, 1536);
    const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  }
  const small = await client.embeddings.create({
    model: 'text-embedding-3-small',
    input: 'hello',
    dimensions: 8,
    encoding_format: 'float',
  });
  assert.equal(small.data[0].embedding.length, 8);
});

test('audio transcription upload arrives intact', async () => {
  const audio = fakeContent(1000, 3 * 1024 * 1024 + 17);
  const transcription = await client.audio.transcriptions.create({
    file: await toFile(audio, 'speech.mp3', { type: 'audio/mpeg' }),
    model: 'gpt-4o-transcribe',
  });
  assert.ok(transcription.text.length > 0);
  if (fake) {
    assert.equal(transcription.text, `received ${audio.length} bytes sha256 ${sha256(audio)}`);
    assert.equal(transcription.usage.type, 'tokens');
  }
});

test('speech download returns the whole binary body', async () => {
  const size = 200_000;
  const response = await client.audio.speech.create(
    { model: 'tts-1', voice: 'alloy', input: 'hello from the relay' },
    hints({ 'x-fake-size': String(size) }),
  );
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.ok(bytes.length > 0);
  if (fake) {
    assert.equal(response.headers.get('content-type'), 'audio/mpeg');
    assert.equal(bytes.length, size);
    assert.equal(sha256(bytes), sha256(fakeContent(0, size)));
  }
});

test('file upload, retrieve, content download and delete', async () => {
  // The fake serves FakeContent of the uploaded length, so uploading FakeContent makes the round trip exact.
  const data = fakeContent(0, 2_500_000);
  const file = await client.files.create({ file: await toFile(data, 'batch.jsonl'), purpose: 'batch' });
  assert.equal(file.bytes, data.length);
  assert.equal(file.filename, 'batch.jsonl');

  const retrieved = await client.files.retrieve(file.id);
  assert.equal(retrieved.id, file.id);

  const content = await client.files.content(file.id);
  const downloaded = Buffer.from(await content.arrayBuffer());
  assert.equal(downloaded.length, data.length);
  if (fake) {
    assert.equal(sha256(downloaded), sha256(data));
  }

  const deleted = await client.files.delete(file.id);
  assert.equal(deleted.deleted, true);
});

test('a wrong API key is rejected with 401', async () => {
  const stranger = new OpenAI({ baseURL, apiKey: 'sk-not-a-valid-key-0000', maxRetries: 0 });
  await assert.rejects(stranger.models.list(), (error) => {
    assert.ok(error instanceof AuthenticationError, `got ${error}`);
    assert.equal(error.status, 401);
    return true;
  });
});

test('an upstream 429 surfaces as RateLimitError', onlyFake, async () => {
  await assert.rejects(
    client.chat.completions.create(
      { model: chatModel, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-fake-status': '429', 'x-fake-retry-after-ms': '10' }, maxRetries: 0 },
    ),
    (error) => {
      assert.ok(error instanceof RateLimitError, `got ${error}`);
      assert.equal(error.status, 429);
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.equal(error.headers.get('retry-after-ms'), '10');
      return true;
    },
  );
  await assert.rejects(
    client.chat.completions.create(
      { model: chatModel, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-fake-status': '429', 'x-fake-error-code': 'insufficient_quota' } },
    ),
    (error) => error instanceof RateLimitError && error.code === 'insufficient_quota',
  );
});

test('a mid-stream chat error raises APIError', onlyFake, async () => {
  const stream = await client.chat.completions.create(
    { model: chatModel, messages: [{ role: 'user', content: 'fail halfway' }], stream: true },
    { headers: { 'x-fake-mid-stream-error': 'true', 'x-fake-events': '4' } },
  );
  let chunks = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of stream) {
        chunks++;
      }
    })(),
    (error) => error instanceof APIError && /server had an error/.test(error.message),
  );
  assert.ok(chunks >= 1, 'the chunks before the error were delivered');
});

test('a mid-stream Responses error event raises APIError', onlyFake, async () => {
  const stream = await client.responses.create(
    { model: chatModel, input: 'fail halfway', stream: true },
    { headers: { 'x-fake-mid-stream-error': 'true' } },
  );
  await assert.rejects(
    (async () => {
      for await (const _ of stream) {
        // consume until the error event throws
      }
    })(),
    (error) => error instanceof APIError,
  );
});

test('aborting a stalled stream ends the request promptly', onlyFake, async () => {
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model: chatModel, messages: [{ role: 'user', content: 'stall' }], stream: true },
    { headers: { 'x-fake-stall-after': '2' }, signal: controller.signal },
  );
  let chunks = 0;
  const started = Date.now();
  // The SDK ends the iteration quietly (no throw) when its own signal aborts the request.
  try {
    for await (const _ of stream) {
      chunks++;
      if (chunks === 2) {
        setTimeout(() => controller.abort(), 50);
      }
    }
  } catch (error) {
    assert.ok(error instanceof APIUserAbortError || error.name === 'AbortError', `got ${error}`);
  }
  assert.ok(controller.signal.aborted);
  assert.equal(chunks, 2);
  assert.ok(Date.now() - started < 10_000);
});

test('realtime WebSocket: session, text response and usage', async () => {
  const url = `${baseURL.replace(/^http/, 'ws').replace(/\/$/, '')}/realtime?model=gpt-realtime`;
  const headers = { Authorization: `Bearer ${apiKey}`, ...(fake ? fiveWords : {}) };
  const socket = new WebSocket(url, ['realtime'], { headers });
  const events = [];
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; got ${events.map((e) => e.type)}`)), 15_000);
    socket.on('error', reject);
    socket.on('message', (raw) => {
      const event = JSON.parse(raw.toString());
      events.push(event);
      if (event.type === 'session.created') {
        socket.send(JSON.stringify({
          type: 'conversation.item.create',
          item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello realtime' }] },
        }));
        socket.send(JSON.stringify({ type: 'response.create' }));
      }
      if (event.type === 'response.done') {
        clearTimeout(timer);
        resolve(event);
      }
    });
  });
  const responseDone = await done;
  assert.equal(socket.protocol, 'realtime', 'the realtime subprotocol must be echoed');
  assert.equal(events[0].type, 'session.created');
  const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  assert.ok(text.length > 0);
  assert.equal(responseDone.response.status, 'completed');
  assert.ok(responseDone.response.usage.total_tokens > 0);
  if (fake) {
    assert.equal(text, 'Fake reply to: hello realtime');
  }
  await new Promise((resolve) => {
    socket.once('close', resolve);
    socket.close(1000);
  });
});
