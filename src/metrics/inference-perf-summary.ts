/**
 * The shape of the per-stage inference-perf summary a run carries (`RunOutput.inferencePerf`, summary.json): typed
 * here, where the run summary that holds it lives; computed by src/report/inference-perf-stages.ts with
 * inference-perf's own formulas (src/report/inference-perf.ts).
 */

export interface IpStageSummary {
  readonly stage: number;
  readonly requested_rate: number;
  readonly achieved_rate: number;
  readonly requests: number;
  readonly completed: number;
  readonly input_tokens_per_s: number;
  readonly output_tokens_per_s: number;
  readonly total_tokens_per_s: number;
  readonly requests_per_s: number;
  readonly ttft_p50_ms: number;
  readonly ttft_p95_ms: number;
  readonly tpot_p50_ms: number;
  readonly ntpot_p50_ms: number;
  readonly e2e_p95_ms: number;
  readonly schedule_delay_p50_ms: number;
  readonly schedule_delay_p95_ms: number;
  /** vllm:num_requests_waiting averaged over the stage (begin → end) and over replicas. */
  readonly waiting_per_replica: number;
  readonly running_per_replica: number;
  /** undefined when the scenario sets no SLO that a stage can be held to. */
  readonly meets_slos: boolean | undefined;
  /** Concurrent stages: the concurrency level. */
  readonly concurrency?: number;
}

export interface IpLabSummary {
  readonly stages: readonly IpStageSummary[];
  /** Highest requested rate up to which every stage (in rate order) meets the SLOs; null if the first fails. */
  readonly knee_rate: number | null | undefined;
  /** The sweep probe's saturation estimate (requests/s), when the config has a sweep. */
  readonly sweep_saturation_rate?: number;
}
