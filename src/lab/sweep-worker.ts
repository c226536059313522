/**
 * A sweep worker thread: receives points, runs them with `runPoint`, posts the results (plain data). The base
 * scenario and parameter specs arrive once, as `workerData`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { InputError } from "../errors.ts";
import type { ParamSpec } from "./params.ts";
import type { WorkerReply, WorkerRequest } from "./pool.ts";
import { type PointJob, type PointResult, runPoint, type SweepBase } from "./sweep.ts";

const port = parentPort;
if (!port) throw new Error("sweep-worker.ts runs in a worker thread");
const { base, params } = workerData as { base: SweepBase; params: ParamSpec[] };

port.on("message", (m: WorkerRequest<PointJob>) => {
  let reply: WorkerReply<PointResult>;
  try {
    reply = { type: "result", id: m.job.id, result: runPoint(base, params, m.job) };
  } catch (e) {
    reply = { type: "error", id: m.job.id, message: (e as Error).message, input: e instanceof InputError };
  }
  port.postMessage(reply);
});
port.postMessage({ type: "ready" } satisfies WorkerReply<PointResult>);
