// The official OpenAI Node SDK as two tenants of one relay in per-key isolation (Relay:Isolation:Mode=per-key):
// key A stores objects (a file, a vector store of it, a batch naming it, a response and its continuation) and key B
// tries to reach them through the SDK. The script records what every call did (status, SDK error class, items
// listed, HTTP attempts) and prints it as one line, `# isolation-result: {json}`; the assertions are made by
// test/OpenAiRelay.Tests/Sdk/NodeSdkIsolationTests.cs, which prepares the keys. Configured only by environment:
//   OPENAI_BASE_URL          the relay, e.g. http://127.0.0.1:5000/v1
//   OPENAI_API_KEY           key A (a client key of a per-key relay)
//   RELAY_ISOLATION_KEY_B    key B (another client key of the same relay)
//   RELAY_TEST_ID            prefix of the x-test-id header: `${id}-a` for A, `${id}-b-own` for what B creates,
//                            `${id}-b-probe` for B's attempts on A's objects and B's lists (none may reach upstream)
// Without RELAY_ISOLATION_KEY_B (e.g. `node --test test/node-sdk/` with an ordinary key) the test is skipped.
import { test } from 'node:test';
import OpenAI, { toFile } from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
const keyA = process.env.OPENAI_API_KEY;
const keyB = process.env.RELAY_ISOLATION_KEY_B;
const testId = process.env.RELAY_TEST_ID ?? 'node-sdk-isolation';
const prepared = baseURL && keyA && keyB
  ? {}
  : { skip: 'needs OPENAI_BASE_URL, OPENAI_API_KEY (key A) and RELAY_ISOLATION_KEY_B (see NodeSdkIsolationTests.cs)' };
const model = 'gpt-4o-mini';
const ownFilesOfB = 7;
const pageLimit = 3;

// Node's fetch asks for `Accept-Encoding: gzip, deflate` by itself, and the relay (this version) does not record the
// owner of a create whose upstream answer is compressed (see NodeSdkIsolationTests.cs). The clients that store
// objects therefore ask for identity; `compressed` keeps the SDK's default, to record what that does.
const identity = { 'accept-encoding': 'identity' };

// The SDK's defaults (maxRetries 2), every HTTP attempt recorded as it returns.
function recordingClient(apiKey, id, attempts, headers = identity) {
  return new OpenAI({
    baseURL,
    apiKey,
    timeout: 30_000,
    defaultHeaders: { 'x-test-id': id, ...headers },
    fetch: async (url, init) => {
      const response = await globalThis.fetch(url, init);
      const u = new URL(url);
      attempts.push({ method: init?.method ?? 'GET', path: u.pathname + u.search, status: response.status });
      return response;
    },
  });
}

// What one SDK call did: its status (200 on success), the SDK's error class and message otherwise.
async function outcome(call) {
  try {
    const value = await call();
    return { ok: true, status: 200, id: value?.id ?? null };
  } catch (e) {
    return { ok: false, status: e?.status ?? null, error: e?.constructor?.name ?? String(e), message: e?.error?.message ?? e?.message ?? null };
  }
}

const batchLine = (i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } }) + '\n';
const upload = async (client, name) => client.files.create({ file: await toFile(Buffer.from(batchLine(0)), name), purpose: 'batch' });

async function collect(iterable) {
  const ids = [];
  for await (const item of iterable) {
    ids.push(item.id);
  }
  return ids;
}

test('per-key isolation through the official Node SDK: B reaches none of A\'s objects, A all of its own', prepared, async () => {
  const attemptsA = [];
  const attemptsB = [];
  const a = recordingClient(keyA, `${testId}-a`, attemptsA);
  const bOwn = recordingClient(keyB, `${testId}-b-own`, attemptsB);
  // B's attempts go out exactly as the SDK sends them by default.
  const bProbe = recordingClient(keyB, `${testId}-b-probe`, attemptsB, {});
  const result = { a: {}, b: {}, created: {} };

  // A stores its objects.
  const file = await upload(a, 'a-batch.jsonl');
  const store = await a.vectorStores.create({ name: 'a-store', file_ids: [file.id] });
  const batch = await a.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const first = await a.responses.create({ model, input: 'hi' });
  const second = await a.responses.create({ model, input: 'go on', previous_response_id: first.id });
  result.created = { file: file.id, vectorStore: store.id, batch: batch.id, response: first.id, continuation: second.id, continuationPrevious: second.previous_response_id ?? null };

  // B stores its own files, enough that a small page limit spans several pages.
  const own = [];
  for (let i = 0; i < ownFilesOfB; i++) {
    own.push((await upload(bOwn, `b-${i}.jsonl`)).id);
  }
  result.created.filesOfB = own;

  // A's own calls, before B tries anything.
  result.a.before = {
    'files.retrieve': await outcome(() => a.files.retrieve(file.id)),
    'files.content': await outcome(async () => { const r = await a.files.content(file.id); return { id: (await r.text()).length > 0 ? file.id : null }; }),
    'vectorStores.retrieve': await outcome(() => a.vectorStores.retrieve(store.id)),
    'batches.retrieve': await outcome(() => a.batches.retrieve(batch.id)),
    'responses.retrieve': await outcome(() => a.responses.retrieve(first.id)),
    'responses.retrieve(continuation)': await outcome(() => a.responses.retrieve(second.id)),
  };
  result.a.listedFiles = await collect(a.files.list({ limit: pageLimit }));
  result.a.listedVectorStores = await collect(a.vectorStores.list());
  result.a.listedBatches = await collect(a.batches.list());

  // B, through the SDK, on A's objects.
  const since = attemptsB.length;
  result.b.probes = {
    'files.retrieve': await outcome(() => bProbe.files.retrieve(file.id)),
    'files.content': await outcome(() => bProbe.files.content(file.id)),
    'vectorStores.retrieve': await outcome(() => bProbe.vectorStores.retrieve(store.id)),
    'vectorStores.files.list': await outcome(() => bProbe.vectorStores.files.list(store.id)),
    'batches.retrieve': await outcome(() => bProbe.batches.retrieve(batch.id)),
    'batches.cancel': await outcome(() => bProbe.batches.cancel(batch.id)),
    'responses.retrieve': await outcome(() => bProbe.responses.retrieve(first.id)),
    'responses.retrieve(continuation)': await outcome(() => bProbe.responses.retrieve(second.id)),
    'responses.create(previous_response_id)': await outcome(() => bProbe.responses.create({ model, input: 'go on', previous_response_id: first.id })),
    'batches.create(input_file_id)': await outcome(() => bProbe.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })),
    'vectorStores.create(file_ids)': await outcome(() => bProbe.vectorStores.create({ name: 'b-steals', file_ids: [file.id] })),
    'files.delete': await outcome(() => bProbe.files.delete(file.id)),
    'responses.delete': await outcome(() => bProbe.responses.delete(first.id)),
    'vectorStores.delete': await outcome(() => bProbe.vectorStores.delete(store.id)),
  };
  result.b.probeAttempts = attemptsB.slice(since);

  // B's lists, auto-paginated with for await.
  const pagesFrom = attemptsB.length;
  result.b.listedFiles = await collect(bProbe.files.list({ limit: pageLimit }));
  result.b.filePages = attemptsB.slice(pagesFrom).map((x) => x.path);
  result.b.listedVectorStores = await collect(bProbe.vectorStores.list({ limit: pageLimit }));
  result.b.listedBatches = await collect(bProbe.batches.list({ limit: pageLimit }));

  // A's objects are intact after B's attempts, and A still continues its conversation.
  result.a.after = {
    'files.retrieve': await outcome(() => a.files.retrieve(file.id)),
    'vectorStores.retrieve': await outcome(() => a.vectorStores.retrieve(store.id)),
    'batches.retrieve': await outcome(() => a.batches.retrieve(batch.id)),
    'responses.retrieve': await outcome(() => a.responses.retrieve(first.id)),
    'responses.create(previous_response_id)': await outcome(() => a.responses.create({ model, input: 'and again', previous_response_id: second.id })),
  };
  result.a.failedAttempts = attemptsA.filter((x) => x.status >= 400);

  // A with the SDK's default Accept-Encoding (compressed answers): does A own what it creates?
  const compressed = recordingClient(keyA, `${testId}-a`, attemptsA, {});
  const zipped = await upload(compressed, 'a-compressed.jsonl');
  const zippedStore = await compressed.vectorStores.create({ name: 'a-compressed' });
  const zippedBatch = await compressed.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const zippedResponse = await compressed.responses.create({ model, input: 'hi' });
  result.a.compressed = {
    created: { file: zipped.id, vectorStore: zippedStore.id, batch: zippedBatch.id, response: zippedResponse.id },
    'files.retrieve': await outcome(() => compressed.files.retrieve(zipped.id)),
    'vectorStores.retrieve': await outcome(() => compressed.vectorStores.retrieve(zippedStore.id)),
    'batches.retrieve': await outcome(() => compressed.batches.retrieve(zippedBatch.id)),
    'responses.retrieve': await outcome(() => compressed.responses.retrieve(zippedResponse.id)),
    listedFiles: await collect(compressed.files.list()),
  };
  result.b.compressed = {
    'files.retrieve': await outcome(() => bProbe.files.retrieve(zipped.id)),
    'vectorStores.retrieve': await outcome(() => bProbe.vectorStores.retrieve(zippedStore.id)),
    'batches.retrieve': await outcome(() => bProbe.batches.retrieve(zippedBatch.id)),
    'responses.retrieve': await outcome(() => bProbe.responses.retrieve(zippedResponse.id)),
  };
  result.a.attempts = attemptsA.length;

  console.log(`# isolation-result: ${JSON.stringify(result)}`);
});
