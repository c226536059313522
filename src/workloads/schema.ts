import { z } from "zod";
import { InputError, schemaIssueText } from "../errors.ts";
import { InferencePerfSourceSchema } from "./inference-perf.ts";
import { RagSourceSchema } from "./rag.ts";
import { ServeGenOptionsSchema } from "./servegen.ts";
import { AgentSourceSchema, ChatSourceSchema } from "./sessions.ts";
import { SharedPrefixSchema } from "./shared-prefix.ts";
import { ArrivalFields, BatchSourceSchema, CommonFields, PoissonSourceSchema } from "./synthetic.ts";
import { TRACE_FORMATS } from "./trace-formats.ts";

export { TRACE_FORMATS, type TraceFormat } from "./trace-formats.ts";

/** Time scaling, windows and sampling shared by every trace. */
export const TraceOptionFields = {
  /** Replay this many times faster (times divided by `speedup`). */
  speedup: z.number().positive().default(1),
  /**
   * Keep requests with start_s ≤ τ < end_s, τ = trace time before speedup (seconds from the trace's origin; for Azure
   * and BurstGPT, whose clocks are absolute, from their first record); kept times are shifted so that start_s → 0.
   */
  window: z
    .strictObject({ start_s: z.number().nonnegative().optional(), end_s: z.number().positive().optional() })
    .optional(),
  /** Keep each request with this probability. */
  sample: z.number().gt(0).max(1).default(1),
  /** Shift times so that the first kept request arrives at 0 (default false). */
  rebase: z.boolean().optional(),
};

export const TraceSourceSchema = z.strictObject({
  type: z.literal("trace"),
  ...CommonFields,
  /** Trace file (or ServeGen folder), relative to the scenario file's folder. */
  path: z.string().min(1),
  /** Format; default from the file name (`.jsonl` gatelab/mooncake/exgentic sniffed from the first line). */
  format: z.enum(TRACE_FORMATS).optional(),
  ...TraceOptionFields,
  /** ServeGen only: lengths fallback, client selection, client = adapter. */
  servegen: ServeGenOptionsSchema.optional(),
});
export type TraceSource = z.infer<typeof TraceSourceSchema>;

/** One workload component (`type` selects the generator or the trace reader). */
export const SourceSchema = z.discriminatedUnion("type", [
  PoissonSourceSchema,
  BatchSourceSchema,
  SharedPrefixSchema,
  TraceSourceSchema,
  ChatSourceSchema,
  RagSourceSchema,
  AgentSourceSchema,
  InferencePerfSourceSchema,
]);
export type SourceConfig = z.infer<typeof SourceSchema>;

/**
 * A weighted mix of components merged in arrival order (ties: earlier component first). With a mix-level `rate`
 * (requests/s) each component gets `rate × weight / Σ weight` (session generators convert it into sessions/s with
 * their mean turns per session); without it each component keeps its own rate multiplied by `weight` (default 1).
 * Trace components keep their own times (`speedup` scales them).
 */
export const MixSchema = z.strictObject({
  mix: z.array(SourceSchema).min(1),
  rate: z.number().positive().optional(),
});

/** A scenario's `workload:` section. */
export const WorkloadSchema = z.union([MixSchema, SourceSchema]);
export type WorkloadConfig = z.infer<typeof WorkloadSchema>;
export type WorkloadInput = z.input<typeof WorkloadSchema>;

export { ArrivalFields, CommonFields };

/** Formats a zod issue path as `a.b.0.c`. */
export function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map((p) => String(p))].filter((x) => x !== "").join(".");
}

/**
 * Validates a raw `workload:` section. Errors become one `InputError`: `FILE: workload.FIELD: message` (the first
 * issue; union mismatches report the branch selected by `type`).
 */
export function parseWorkload(raw: unknown, file?: string, prefix = "workload"): WorkloadConfig {
  const r = WorkloadSchema.safeParse(raw);
  if (r.success) return r.data;
  // Prefer the issue from the branch the user meant (mix vs single source).
  const isMix = typeof raw === "object" && raw !== null && "mix" in raw;
  const target = isMix ? MixSchema : SourceSchema;
  const r2 = target.safeParse(raw);
  const issue = (r2.success ? r.error : r2.error).issues[0]!;
  const where = issuePath(prefix, issue.path);
  throw new InputError(`${file ? `${file}: ` : ""}${where}: ${schemaIssueText(issue, raw)}`);
}

// The builder lives in index.ts; re-exported here for callers that import the workload section's module.
