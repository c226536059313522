import type { Segment } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import { JsonLinesReader, jsonNum } from "./hash-trace.ts";
import { lineError } from "./trace-common.ts";
import { contentId, type Draft, draft, NS } from "./types.ts";

/**
 * gatelab's own request JSONL (read and written; `docs/workloads.md`). One JSON object per line:
 *
 * ```
 * {"gatelab":"requests","version":1}                                   optional first line (header)
 * {"id":0,"arrival":0.012652,"input_tokens":860,"output_tokens":311,
 *  "prompt":[[id,tokens],[id,tokens,offset]],"output_id":123,"session":"chat/4","round":2,
 *  "tenant":"a","slo_class":"interactive","priority":0,"model":"m","adapter":"lora-1","cache_salt":"t1",
 *  "source":"chat"}
 * ```
 * Required: `arrival` (seconds, non-decreasing), `input_tokens`, `output_tokens`. `prompt` lists the prompt's segments
 * as `[content_id, tokens]` or `[content_id, tokens, offset]` (content ids are 52-bit integers: equal ids = equal
 * content, which is what prefix caching sees); their tokens must sum to `input_tokens`; absent: the prompt is unique
 * content. `output_id` is the identity of the generated text (a later prompt quoting it can hit its cached blocks).
 * `id` is informational (ids are re-assigned densely on reading). `cache_salt` is vLLM's request field: only requests
 * with the same salt (and adapter) share cached blocks. Other fields are optional.
 */
export const JSONL_HEADER = { gatelab: "requests", version: 1 } as const;

const STRING_FIELDS = [
  ["session", "session"],
  ["tenant", "tenant"],
  ["slo_class", "sloClass"],
  ["model", "model"],
  ["adapter", "adapter"],
  ["cache_salt", "cacheSalt"],
] as const;

export class GatelabJsonlReader extends JsonLinesReader {
  next(): Draft | undefined {
    for (;;) {
      const o = this.nextObject();
      if (o === undefined) return undefined;
      const ln = this.lines.lineNo;
      const F = this.file;
      if ("gatelab" in o) {
        if (o.version !== 1) throw lineError(F, ln, "version", `expected version 1, got ${JSON.stringify(o.version)}`);
        continue;
      }
      const t = jsonNum(o, "arrival", F, ln, false);
      const input = jsonNum(o, "input_tokens", F, ln, true);
      const output = jsonNum(o, "output_tokens", F, ln, true);
      let prompt: Segment[];
      if (o.prompt === undefined) {
        prompt = input > 0 ? [{ id: contentId(NS.unique, this.salt, this.row), tokens: input }] : [];
      } else {
        if (!Array.isArray(o.prompt))
          throw lineError(F, ln, "prompt", "expected an array of [content_id, tokens, offset?]");
        prompt = [];
        let sum = 0;
        for (let k = 0; k < o.prompt.length; k++) {
          const s = o.prompt[k] as unknown;
          const ok =
            Array.isArray(s) &&
            (s.length === 2 || s.length === 3) &&
            s.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0);
          if (!ok)
            throw lineError(
              F,
              ln,
              `prompt.${k}`,
              `expected [content_id, tokens] or [content_id, tokens, offset] of non-negative integers, got ${JSON.stringify(s)}`,
            );
          const [id, tokens, offset] = s as number[];
          prompt.push(offset ? { id: id!, tokens: tokens!, offset } : { id: id!, tokens: tokens! });
          sum += tokens!;
        }
        if (sum !== input)
          throw lineError(F, ln, "prompt", `expected segments summing to input_tokens (${input}), got ${sum}`);
      }
      this.row++;
      const d = draft(t, prompt, input, output);
      for (const [k, f] of STRING_FIELDS) {
        const v = o[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== "string") throw lineError(F, ln, k, `expected a string, got ${JSON.stringify(v)}`);
        d[f] = v;
      }
      if (o.output_id !== undefined) d.outputContentId = jsonNum(o, "output_id", F, ln, true);
      if (o.round !== undefined) d.round = jsonNum(o, "round", F, ln, true);
      if (o.priority !== undefined) {
        if (typeof o.priority !== "number" || !Number.isInteger(o.priority))
          throw lineError(F, ln, "priority", `expected an integer, got ${JSON.stringify(o.priority)}`);
        d.priority = o.priority;
      }
      return d;
    }
  }
}

/** One request as a gatelab JSONL line (no newline). Key order fixed, so output is byte-stable. */
export function jsonlLine(r: Request): string {
  const o: Record<string, unknown> = {
    id: r.id,
    arrival: r.arrival,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    prompt: r.prompt.map((s) => (s.offset ? [s.id, s.tokens, s.offset] : [s.id, s.tokens])),
  };
  if (r.outputContentId !== undefined) o.output_id = r.outputContentId;
  if (r.session !== undefined) o.session = r.session;
  if (r.round !== undefined) o.round = r.round;
  if (r.tenant !== undefined) o.tenant = r.tenant;
  if (r.sloClass !== undefined) o.slo_class = r.sloClass;
  if (r.priority !== undefined) o.priority = r.priority;
  if (r.model !== undefined) o.model = r.model;
  if (r.adapter !== undefined) o.adapter = r.adapter;
  if (r.cacheSalt !== undefined) o.cache_salt = r.cacheSalt;
  if (r.source !== undefined) o.source = r.source;
  return JSON.stringify(o);
}

export function jsonlHeaderLine(): string {
  return JSON.stringify(JSONL_HEADER);
}
