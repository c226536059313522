/**
 * `--trace-decisions FILE`: one JSON object per routing decision, so a user can see why a request went where it went:
 * `{"id","t","pick"|"refused","status","reason","candidates":[{"replica","name","waiting","running","kv","age_ms",
 * "score","scores":{"<scorer>":x}}]}`, and `"prefill"` (the prefill pod) for a P/D-disaggregated request. Written to a temporary file and renamed when the run ends (atomic).
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { DecisionRecord } from "../cluster/engine.ts";
import { outputError } from "../errors.ts";
import { checkWritableFile, cleanStaleTemps, makeDirs, tmpSibling } from "./atomic.ts";

export interface DecisionTraceWriter {
  record(d: DecisionRecord): void;
  close(): void;
}

export function decisionToJson(d: DecisionRecord): unknown {
  const r = d.result;
  const candidates = d.candidates.map((c) => {
    const o: Record<string, unknown> = {
      replica: c.index,
      name: c.name,
      waiting: c.waiting,
      running: c.running,
      kv: round(c.kvCacheUsage),
      age_ms: round((d.t - c.scrapeTime) * 1000),
    };
    if (!r.refused) {
      const score = r.scores?.get(c.index);
      if (score !== undefined) o.score = round(score);
      if (r.breakdown) {
        const per: Record<string, number> = {};
        for (const [name, m] of r.breakdown) {
          const v = m.get(c.index);
          if (v !== undefined) per[name] = round(v);
        }
        o.scores = per;
      }
    }
    return o;
  });
  return r.refused
    ? { id: d.id, t: round(d.t), refused: true, status: r.status, reason: r.reason, candidates }
    : {
        id: d.id,
        t: round(d.t),
        pick: r.replica,
        ...(r.prefill !== undefined && r.prefill >= 0 ? { prefill: r.prefill } : {}),
        candidates,
      };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export function decisionTraceWriter(path: string): DecisionTraceWriter {
  checkWritableFile(path, "decision trace");
  const tmp = tmpSibling(path);
  let fd: number;
  try {
    makeDirs(dirname(path));
    cleanStaleTemps(path);
    fd = openSync(tmp, "w");
  } catch (e) {
    throw outputError(path, e);
  }
  let buf: string[] = [];
  const flush = () => {
    try {
      if (buf.length > 0) writeSync(fd, buf.join(""));
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw outputError(path, e);
    }
    buf = [];
  };
  return {
    record(d) {
      buf.push(`${JSON.stringify(decisionToJson(d))}\n`);
      if (buf.length >= 1000) flush();
    },
    close() {
      flush();
      closeSync(fd);
      try {
        renameSync(tmp, path);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw outputError(path, e);
      }
    },
  };
}
