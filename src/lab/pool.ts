/**
 * A worker_threads pool with a pull queue: each worker gets the next job when it posts a result, so a slow job never
 * holds up the others. Results come back in completion order; callers sort by job id, so nothing depends on the
 * number of threads.
 *
 * TypeScript workers under tsx/vitest on Node 20: a worker does not inherit tsx's loader hooks, so a `.ts` worker is
 * booted from an eval stub that registers tsx first (toolchain notes §5). Compiled (`dist/`), Deno and Node ≥ 22.18
 * load the worker module directly.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

export interface WorkerRequest<J> {
  readonly type: "job";
  readonly job: J;
}

export type WorkerReply<R> =
  | { readonly type: "ready" }
  | { readonly type: "result"; readonly id: number; readonly result: R }
  | { readonly type: "error"; readonly id: number; readonly message: string; readonly input: boolean };

function tsxApiUrl(): string {
  const resolve = (import.meta as { resolve?: (s: string) => string }).resolve;
  if (typeof resolve === "function") {
    try {
      return resolve("tsx/esm/api");
    } catch {
      // fall through
    }
  }
  const path = createRequire(import.meta.url)
    .resolve("tsx/esm/api")
    .replace(/\.cjs$/, ".mjs");
  return pathToFileURL(path).href;
}

/** Starts a worker on `url` (a `.js` module, or a `.ts` one under tsx/vitest). */
export function spawnWorker(url: URL, workerData: unknown): Worker {
  const isTs = url.pathname.endsWith(".ts");
  const native = "Deno" in globalThis || (process.features as { typescript?: unknown }).typescript !== undefined;
  if (!isTs || native) return new Worker(url, { workerData });
  const api = tsxApiUrl();
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

/** Thrown for a job whose worker reported bad input; the pool stops. */
export class JobInputError extends Error {
  override readonly name = "JobInputError";
}

/**
 * Runs `jobs` on `threads` workers started from `url`; `onResult` is called on the main thread as each job finishes.
 * Rejects on the first failing job (after stopping every worker).
 */
export function runPool<J extends { readonly id: number }, R>(o: {
  readonly url: URL;
  readonly workerData: unknown;
  readonly jobs: readonly J[];
  readonly threads: number;
  readonly onResult: (job: J, result: R) => void;
}): Promise<void> {
  const jobs = o.jobs;
  if (jobs.length === 0) return Promise.resolve();
  const n = Math.max(1, Math.min(o.threads, jobs.length));
  return new Promise<void>((resolvePool, rejectPool) => {
    const workers: Worker[] = [];
    const byId = new Map<number, J>();
    for (const j of jobs) byId.set(j.id, j);
    let next = 0;
    let done = 0;
    let failed = false;
    const stopAll = () => Promise.allSettled(workers.map((w) => w.terminate()));
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      void stopAll().then(() => rejectPool(e));
    };
    const feed = (w: Worker) => {
      if (failed) return;
      if (next < jobs.length) {
        const msg: WorkerRequest<J> = { type: "job", job: jobs[next++]! };
        w.postMessage(msg);
      }
    };
    for (let i = 0; i < n; i++) {
      const w = spawnWorker(o.url, o.workerData);
      workers.push(w);
      w.on("message", (m: WorkerReply<R>) => {
        if (failed) return;
        if (m.type === "ready") return feed(w);
        if (m.type === "error") {
          return fail(m.input ? new JobInputError(m.message) : new Error(`job ${m.id}: ${m.message}`));
        }
        try {
          o.onResult(byId.get(m.id)!, m.result);
        } catch (e) {
          return fail(e as Error);
        }
        done++;
        if (done === jobs.length) {
          void stopAll().then(() => resolvePool());
          return;
        }
        feed(w);
      });
      w.on("error", (e) => fail(e));
      w.on("exit", (code) => {
        // terminate() exits with 1; only an exit before all jobs are done is a failure.
        if (!failed && done < jobs.length) fail(new Error(`a worker exited early (code ${code})`));
      });
    }
  });
}
