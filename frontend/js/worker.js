// A second thread for full scorings (see frontend/src/worker.rs for why).
//
// This one file runs in two places:
// - in the page, imported by the app's glue: `spawn` starts a module
//   worker on this same file, and `sendPanel` / `scorePart` ask it;
// - in the worker, as its script: it loads the app's own wasm module (the
//   page sends the compiled module, so nothing is fetched or compiled
//   twice) and answers with the engine (`worker*` in worker.rs).
// Requests are answered in the order they were posted, each by its id.

const inWorker = typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope;

// How long a worker may take to start (load, instantiate, warm up), or to
// answer a request, before the page scores on its own thread instead (a
// part of a million service-days takes it about 80 ms).
const START_MS = 5000;
const ANSWER_MS = 10000;

if (inWorker) {
  let glue = null;
  self.onmessage = async ({ data }) => {
    const { id } = data;
    try {
      if (data.kind === 'init') {
        glue = await import(data.glue);
        await glue.default({ module_or_path: data.module });
        glue.workerWarmUp();
        self.postMessage({ id, ok: true });
      } else if (data.kind === 'panel') {
        glue.workerPanel(data.panel, new Uint8Array(data.bytes));
        self.postMessage({ id, ok: true });
      } else if (data.kind === 'score') {
        const t0 = performance.now();
        const part = glue.workerScore(data.panel, data.params, data.start, data.end);
        // How long it took, on this thread's own clock (the page's and the
        // worker's need not agree): the page balances the next split with it.
        part.ms = performance.now() - t0;
        const buffers = Object.values(part).filter((v) => ArrayBuffer.isView(v)).map((v) => v.buffer);
        self.postMessage({ id, ok: true, part }, buffers);
      }
    } catch (e) {
      self.postMessage({ id, ok: false, error: String(e) });
    }
  };
}

let nextId = 0;
const waiting = new Map();

// The worker's answer to `message`; a rejection once it has failed, or
// when it does not answer within `ms`.
function ask(worker, message, ms) {
  if (worker.failed) return Promise.reject(new Error('the worker failed'));
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ ...message, id });
    setTimeout(() => {
      if (waiting.delete(id)) reject(new Error('the worker did not answer'));
    }, ms);
  });
}

// The app's glue script: trunk preloads it (the only preloaded script
// outside the snippets' folder, where this file is).
function glueUrl() {
  const snippets = new URL('../../', import.meta.url).href;
  for (const link of document.querySelectorAll('link[rel="modulepreload"]')) {
    const url = new URL(link.href, document.baseURI);
    if (url.pathname.endsWith('.js') && !url.href.startsWith(snippets)) return url.href;
  }
  return null;
}

// A started worker, or a rejection (no Worker, no glue found, a failed or
// slow start): the page then scores on its own thread. The page awaits it
// only when it first scores, so a rejection is marked handled here.
export function spawn(module) {
  const started = start(module);
  started.catch(() => {});
  return started;
}

function start(module) {
  const glue = glueUrl();
  if (typeof Worker === 'undefined' || !glue) return Promise.reject(new Error('no worker'));
  let worker;
  try {
    worker = new Worker(import.meta.url, { type: 'module' });
  } catch (e) {
    return Promise.reject(e);
  }
  const fail = (error) => {
    worker.failed = true;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.onmessage = ({ data }) => {
    const pending = waiting.get(data.id);
    if (!pending) return;
    waiting.delete(data.id);
    if (data.ok) pending.resolve(data.part);
    else pending.reject(new Error(data.error));
  };
  worker.onerror = (e) => {
    e.preventDefault();
    fail(new Error(e.message || 'the worker failed'));
  };
  worker.onmessageerror = () => fail(new Error('a message the worker could not read'));
  return ask(worker, { kind: 'init', glue, module }, START_MS).then(
    () => worker,
    (e) => {
      worker.terminate();
      throw e;
    },
  );
}

// The panel's bytes as /api/daily sent them, copied (the page keeps its
// own), to be named by `panel` (a number).
// Nobody waits for its answer (a panel the worker could not read fails the
// scoring that asks for it), so a rejection is marked handled here.
export function sendPanel(worker, panel, bytes) {
  const sent = ask(worker, { kind: 'panel', panel, bytes }, ANSWER_MS);
  sent.catch(() => {});
  return sent;
}

// Scores services start..end of panel `panel` with the parameters (JSON):
// the part's columns, transferred. Rejects with 'stale panel' when the
// worker holds another panel by then.
export function scorePart(worker, panel, params, start, end) {
  return ask(worker, { kind: 'score', panel, params, start, end }, ANSWER_MS);
}

// Stops a worker the page no longer asks (it failed once).
export function stop(worker) {
  worker.failed = true;
  worker.terminate();
}
