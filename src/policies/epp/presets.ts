/**
 * EndpointPickerConfig presets: the real configurations listed in
 * docs/reference.md#endpointpickerconfig-loading-and-presets (with the llm-d sample weights), plus gatelab's hot-node escape hatch. Each is the plain object a YAML file would parse to;
 * the same configs live as files in `scenarios/epp/` (a test checks they agree).
 */

const GIE = "inference.networking.x-k8s.io/v1alpha1";
const LLMD = "llm-d.ai/v1alpha1";

export interface EppPreset {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  /** The scenarios/epp file holding the same config, if any. */
  readonly file?: string;
  readonly config: Record<string, unknown>;
}

const profile = (...refs: [string, number?][]) => [
  {
    name: "default",
    plugins: refs.map(([pluginRef, weight]) => (weight === undefined ? { pluginRef } : { pluginRef, weight })),
  },
];

export const EPP_PRESETS: readonly EppPreset[] = [
  {
    name: "decision-tree",
    description: "GIE v0.5 helm default: low-queue → LoRA affinity → least queue → least KV filters, random pick",
    source: "GIE v0.5.0 config/charts/inferencepool/templates/epp-config.yaml (default-plugins.yaml)",
    file: "gie-v0.5-decision-tree.yaml",
    config: {
      apiVersion: GIE,
      kind: "EndpointPickerConfig",
      plugins: [
        { type: "low-queue-filter", parameters: { threshold: 128 } },
        { type: "lora-affinity-filter", parameters: { threshold: 0.999 } },
        { type: "least-queue-filter" },
        { type: "least-kv-cache-filter" },
        {
          type: "decision-tree-filter",
          name: "low-latency-filter",
          parameters: {
            current: { pluginRef: "low-queue-filter" },
            nextOnSuccess: {
              decisionTree: {
                current: { pluginRef: "lora-affinity-filter" },
                nextOnSuccessOrFailure: {
                  decisionTree: {
                    current: { pluginRef: "least-queue-filter" },
                    nextOnSuccessOrFailure: { decisionTree: { current: { pluginRef: "least-kv-cache-filter" } } },
                  },
                },
              },
            },
            nextOnFailure: {
              decisionTree: {
                current: { pluginRef: "least-queue-filter" },
                nextOnSuccessOrFailure: {
                  decisionTree: {
                    current: { pluginRef: "lora-affinity-filter" },
                    nextOnSuccessOrFailure: { decisionTree: { current: { pluginRef: "least-kv-cache-filter" } } },
                  },
                },
              },
            },
          },
        },
        { type: "random-picker", parameters: { maxNumOfEndpoints: 1 } },
        { type: "single-profile-handler" },
      ],
      schedulingProfiles: [
        { name: "default", plugins: [{ pluginRef: "low-latency-filter" }, { pluginRef: "random-picker" }] },
      ],
    },
  },
  {
    name: "gie-v1.0-default",
    description: "GIE v1.0 helm default: queue 1, kv-utilization 1, prefix 1 (v1.0 prefix index: 64-char blocks)",
    source: "GIE v1.0.0 config/charts/inferencepool/templates/epp-config.yaml; prefix defaults of v1.0 plugin.go",
    file: "gie-v1.0-default.yaml",
    config: {
      apiVersion: GIE,
      kind: "EndpointPickerConfig",
      plugins: [
        { type: "queue-scorer" },
        { type: "kv-cache-utilization-scorer" },
        {
          type: "prefix-cache-scorer",
          parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 31250 },
        },
      ],
      schedulingProfiles: profile(["queue-scorer"], ["kv-cache-utilization-scorer"], ["prefix-cache-scorer"]),
    },
  },
  {
    name: "gie-default",
    description: "GIE v1.2+ / llm-d built-in default: queue 2, kv-utilization 2, prefix 3 (token blocks, auto-tuned)",
    source: "GIE commit ae8adbce (v1.2.0+) helm chart; pkg/epp/config/loader/defaults.go (GIE last, llm-d-router)",
    file: "gie-default.yaml",
    config: {
      apiVersion: GIE,
      kind: "EndpointPickerConfig",
      plugins: [{ type: "queue-scorer" }, { type: "kv-cache-utilization-scorer" }, { type: "prefix-cache-scorer" }],
      schedulingProfiles: profile(["queue-scorer", 2], ["kv-cache-utilization-scorer", 2], ["prefix-cache-scorer", 3]),
    },
  },
  {
    name: "llm-d-precise",
    description: "llm-d precise prefix (KV events): precise-prefix 2, kv-utilization 1, queue 1",
    source: "llm-d-inference-scheduler deploy/config/epp-precise-prefix-cache-config.yaml (v0.3.0 → May-26)",
    file: "llm-d-precise.yaml",
    config: {
      apiVersion: LLMD,
      kind: "EndpointPickerConfig",
      plugins: [
        { type: "precise-prefix-cache-scorer" },
        { type: "kv-cache-utilization-scorer" },
        { type: "queue-scorer" },
      ],
      schedulingProfiles: profile(
        ["precise-prefix-cache-scorer", 2],
        ["kv-cache-utilization-scorer", 1],
        ["queue-scorer", 1],
      ),
    },
  },
  {
    name: "llm-d-token-aware",
    description:
      "llm-d guides 2026: prefix-cache-affinity-filter (0.80, release at τ = 286,720 tokens) + token-load-scorer",
    source: "llm-d guides/optimized-baseline calibration values (2026); τ from the llm-d blog 2026-08-17",
    file: "llm-d-token-aware.yaml",
    config: {
      apiVersion: LLMD,
      kind: "EndpointPickerConfig",
      plugins: [
        { type: "token-load-scorer" },
        { type: "approx-prefix-cache-producer", parameters: { maxPrefixTokensToMatch: 40960 } },
        {
          type: "prefix-cache-affinity-filter",
          parameters: { affinityThreshold: 0.8, maxTokensInFlightPenalty: 286720, maxTTFTPenaltyMs: 0 },
        },
      ],
      schedulingProfiles: profile(["prefix-cache-affinity-filter"], ["token-load-scorer"]),
    },
  },
  {
    name: "llm-d-legacy-blend",
    description: "llm-d guides before Aug 2026: prefix 3, queue 2, kv-utilization 2, no-hit-lru 2",
    source: 'llm-d blog 2026-08-17 ("legacy blend")',
    file: "llm-d-legacy-blend.yaml",
    config: {
      apiVersion: LLMD,
      kind: "EndpointPickerConfig",
      plugins: [
        { type: "prefix-cache-scorer" },
        { type: "queue-scorer" },
        { type: "kv-cache-utilization-scorer" },
        { type: "no-hit-lru-scorer" },
      ],
      schedulingProfiles: profile(
        ["prefix-cache-scorer", 3],
        ["queue-scorer", 2],
        ["kv-cache-utilization-scorer", 2],
        ["no-hit-lru-scorer", 2],
      ),
    },
  },
  {
    name: "llm-d-load-aware",
    description: "llm-d estimated-prefix sample: prefix 1 + load-aware 1",
    source: "llm-d-inference-scheduler deploy/config/epp-estimate-prefix-cache-config.yaml",
    file: "llm-d-load-aware.yaml",
    config: {
      apiVersion: LLMD,
      kind: "EndpointPickerConfig",
      plugins: [{ type: "prefix-cache-scorer" }, { type: "load-aware-scorer" }],
      schedulingProfiles: profile(["prefix-cache-scorer", 1], ["load-aware-scorer", 1]),
    },
  },
  {
    name: "sticky-until-saturated",
    description:
      "hot-node escape hatch: stick to the pods holding the prefix until they saturate (queue ≥ 5, KV ≥ 0.8, stale), then queue depth wins",
    source: "gatelab; prefix-cache-affinity-filter (llm-d) + utilization-detector thresholds (GIE) + queue-scorer",
    file: "sticky-until-saturated.yaml",
    config: {
      apiVersion: LLMD,
      kind: "EndpointPickerConfig",
      plugins: [
        { type: "utilization-detector", parameters: { queueDepthThreshold: 5, kvCacheUtilThreshold: 0.8 } },
        {
          type: "prefix-cache-affinity-filter",
          parameters: { affinityThreshold: 0.5, maxTTFTPenaltyMs: 0, saturationDetectorRef: "utilization-detector" },
        },
        { type: "queue-scorer" },
        { type: "kv-cache-utilization-scorer" },
      ],
      schedulingProfiles: profile(
        ["prefix-cache-affinity-filter"],
        ["queue-scorer", 2],
        ["kv-cache-utilization-scorer", 1],
      ),
    },
  },
];
