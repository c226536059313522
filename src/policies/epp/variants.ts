/**
 * Router semantics as named variants: today's llm-d-router by default, earlier Endpoint Pickers selectable. A
 * variant fixes what the loader accepts (apiVersions, registered feature gates, default parsers) and the defaults
 * that changed between versions (the approximate prefix index's block size and match cap, the deprecated
 * `blockSize` parameter's unit, whether a partial tail block is hashed).
 *
 * Sources (cited per field below):
 * - `llm-d-router-2026-08`: llm-d/llm-d-router `main` at `ebab6879` (2026-08-22), the corpus commit of
 *   `../shared/data/epp-configs/llm-d-router/`.
 * - `gie-r1.5`: kubernetes-sigs/gateway-api-inference-extension `release-1.5` at `1e46715c` (2026-05-14), also the
 *   loader of llm-d/llm-d-inference-scheduler `520af478` (identical in these parts).
 * - `gie-v1.0`: GIE v1.0 (docs/reference.md#endpointpickerconfig-loading-and-presets): the prefix scorer's 64-token blocks, no parsers
 *   section.
 */
import { InputError } from "../../errors.ts";

export const EPP_VARIANTS = ["llm-d-router-2026-08", "gie-r1.5", "gie-v1.0"] as const;
export type EppVariantName = (typeof EPP_VARIANTS)[number];
export const DEFAULT_EPP_VARIANT: EppVariantName = "llm-d-router-2026-08";

export interface EppVariant {
  readonly name: EppVariantName;
  readonly description: string;
  /** apiVersions the loader's scheme decodes. */
  readonly apiVersions: readonly string[];
  /** Feature gates the binary registers (unknown gates are loader errors). */
  readonly featureGates: ReadonlyMap<string, boolean>;
  /** Parsers the loader adds when `requestHandler.parsers` is empty (undefined: no parser stage). */
  readonly defaultParsers: readonly string[] | undefined;
  /**
   * Approximate prefix index defaults: `blockSizeTokens` undefined means "the model server's block size" (read
   * from the engine, vLLM's 16), else a fixed token count; `minBlockTokens` a floor; `maxPrefixTokens` the match
   * cap in tokens (undefined: `maxPrefixBlocksToMatch` blocks); whether the deprecated `blockSize` parameter is in
   * characters (÷ 4 per token) and whether a partial tail block gets a hash.
   */
  readonly prefix: {
    readonly blockSizeTokens: number | undefined;
    readonly minBlockTokens: number;
    readonly maxPrefixTokens: number | undefined;
    readonly legacyBlockSizeIsChars: boolean;
    readonly hashPartialTail: boolean;
  };
}

const ROUTER_GATES = new Map<string, boolean>([
  // llm-d-router cmd/epp/runner/runner.go L754–L755.
  ["flowControl", false],
  ["haPopulateNonLeaderDatastore", true],
  // Registered by the loader tests (pkg/epp/config/loader/configloader_test.go L83), for the loader fixtures.
  ["test-feature-gate", true],
]);

const GIE15_GATES = new Map<string, boolean>([
  // GIE release-1.5 cmd/epp/runner/runner.go: flow control, the data layer, data-preparation plugins, legacy
  // metric names (the gates its shipped configs and loader fixtures name).
  ["flowControl", false],
  ["dataLayer", false],
  ["prepareDataPlugins", false],
  ["enableLegacyMetrics", false],
  ["test-feature-gate", true],
]);

export const VARIANTS: ReadonlyMap<EppVariantName, EppVariant> = new Map<EppVariantName, EppVariant>([
  [
    "llm-d-router-2026-08",
    {
      name: "llm-d-router-2026-08",
      description: "llm-d-router main at ebab6879 (2026-08-22): today's router (default)",
      // pkg/epp/config/loader/configloader.go L53 (deprecated group kept) and apix/config/v1alpha1 (llm-d.ai).
      apiVersions: ["llm-d.ai/v1alpha1", "inference.networking.x-k8s.io/v1alpha1"],
      featureGates: ROUTER_GATES,
      // pkg/epp/config/loader/defaults.go L247–L271: openai, anthropic, vllmhttp, then passthrough.
      defaultParsers: ["openai-parser", "anthropic-parser", "vllmhttp-parser", "passthrough-parser"],
      prefix: {
        blockSizeTokens: undefined,
        minBlockTokens: 1,
        maxPrefixTokens: undefined,
        legacyBlockSizeIsChars: false,
        hashPartialTail: false,
      },
    },
  ],
  [
    "gie-r1.5",
    {
      name: "gie-r1.5",
      description: "GIE release-1.5 at 1e46715c (2026-05-14) and llm-d-inference-scheduler 520af478",
      apiVersions: ["inference.networking.x-k8s.io/v1alpha1", "llm-d.ai/v1alpha1"],
      featureGates: GIE15_GATES,
      defaultParsers: ["openai-parser"],
      prefix: {
        blockSizeTokens: 64,
        minBlockTokens: 64,
        maxPrefixTokens: 131072,
        legacyBlockSizeIsChars: false,
        hashPartialTail: true,
      },
    },
  ],
  [
    "gie-v1.0",
    {
      name: "gie-v1.0",
      description: "GIE v1.0: 64-token prefix blocks, 256 blocks matched, partial tail hashed",
      apiVersions: ["inference.networking.x-k8s.io/v1alpha1"],
      featureGates: new Map([
        ["flowControl", false],
        ["dataLayer", false],
      ]),
      defaultParsers: undefined,
      prefix: {
        blockSizeTokens: 64,
        minBlockTokens: 64,
        maxPrefixTokens: undefined,
        legacyBlockSizeIsChars: false,
        hashPartialTail: true,
      },
    },
  ],
]);

export function eppVariant(name: string | undefined, where = "epp variant"): EppVariant {
  const v = VARIANTS.get((name ?? DEFAULT_EPP_VARIANT) as EppVariantName);
  if (v === undefined) {
    throw new InputError(`${where}: unknown router variant "${name}"; accepted: ${EPP_VARIANTS.join(", ")}`);
  }
  return v;
}
