/**
 * Schema pieces every cost model's `cost_model` entry uses: finite and non-negative numbers, and the per-request
 * overheads a scenario may override (milliseconds; each given field replaces the model's own value).
 */
import { z } from "zod";
import type { RequestOverheads } from "./cost.ts";

export const finite = z.number().refine(Number.isFinite, "must be a finite number");
export const nonNegative = finite.refine((x) => x >= 0, "must be ≥ 0");

/** Per-request overheads in milliseconds; each given field replaces the model's own value. */
export const OverheadsSchema = z.strictObject({
  pre_queue_ms: nonNegative.optional(),
  pre_queue_per_input_token_ms: nonNegative.optional(),
  per_output_token_ms: nonNegative.optional(),
  post_decode_ms: nonNegative.optional(),
});

/** The model's overheads with the scenario's `overheads` applied. */
export function applyOverrides(
  base: RequestOverheads,
  o: z.output<typeof OverheadsSchema> | undefined,
): RequestOverheads {
  if (o === undefined) return base;
  return {
    preQueue: o.pre_queue_ms !== undefined ? o.pre_queue_ms / 1000 : base.preQueue,
    preQueuePerInputToken:
      o.pre_queue_per_input_token_ms !== undefined ? o.pre_queue_per_input_token_ms / 1000 : base.preQueuePerInputToken,
    perOutputToken: o.per_output_token_ms !== undefined ? o.per_output_token_ms / 1000 : base.perOutputToken,
    postDecode: o.post_decode_ms !== undefined ? o.post_decode_ms / 1000 : base.postDecode,
  };
}
