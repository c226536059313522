/**
 * The legacy decision-tree filters of the Endpoint Picker and the P/D role filters.
 *
 * Source: GIE v0.3 `pkg/epp/scheduling/{filter.go,scheduler.go}` (hard-coded tree), GIE v0.4/v0.5
 * `.../plugins/filter/*` (the same as plugins), llm-d role filters (docs/reference.md#endpoint-picker-filters-and-saturation-detectors).
 * - `low-queue-filter` (`threshold` 128): keep `waiting ≤ threshold`.
 * - `lora-affinity-filter` (`threshold` 0.999): v0.5 groups "affinity" = target adapter running or waiting,
 *   "available" = `|running| + |waiting| < max_lora`; both non-empty → affinity with probability `threshold` (one
 *   draw from the routing stream), else available; otherwise whichever is non-empty (possibly none).
 *   The v0.3 form (affinity = running only; available = `|running| < max_lora`) is `loraAffinityV03`.
 * - `least-queue-filter`: keep `waiting ≤ min + ⌊(max − min)/N⌋` (integer division, N = candidates).
 * - `least-kv-cache-filter`: keep `kv ≤ min + (max − min)/N`.
 * - `decision-tree-filter` (`current`, `nextOnSuccess`, `nextOnFailure`, `nextOnSuccessOrFailure`, each
 *   `{pluginRef}` or nested `{decisionTree}`): a non-empty result continues on the success branch with the filtered
 *   list; an empty one continues on the failure branch with the unfiltered list; a leaf returns its result.
 * - `decode-filter` keeps pods labelled decode/both/... and pods without the role label; `prefill-filter` and
 *   `encode-filter` need the label (the scenario's `pools[].labels`; see RoleFilter below).
 */
import { z } from "zod";
import type { Rng } from "../../sim/rng.ts";
import type { EndpointView } from "../types.ts";
import type { Cycle, Filter } from "./framework.ts";
import { nonNeg, unit } from "./params.ts";
import { targetAdapter } from "./scorers.ts";

export const lowQueueParams = z.strictObject({ threshold: nonNeg.default(128) });
export const loraAffinityFilterParams = z.strictObject({ threshold: unit.default(0.999) });

/** Where a filter's result list comes from: the cycle's reusable buffers, or a fresh array (no `Buffers`). */
export interface Buffers {
  buffer(n: number): EndpointView[];
}

function list(out: Buffers | undefined, n: number): EndpointView[] {
  return out === undefined ? new Array<EndpointView>(n) : out.buffer(n);
}

/** Keeps `waiting ≤ threshold`. */
export function lowQueue(eps: readonly EndpointView[], threshold: number, out?: Buffers): EndpointView[] {
  let n = 0;
  for (const ep of eps) if (ep.waiting <= threshold) n++;
  const kept = list(out, n);
  let k = 0;
  for (const ep of eps) if (ep.waiting <= threshold) kept[k++] = ep;
  return kept;
}

export function leastQueue(eps: readonly EndpointView[], out?: Buffers): readonly EndpointView[] {
  const n = eps.length;
  if (n === 0) return eps;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const ep of eps) {
    lo = Math.min(lo, ep.waiting);
    hi = Math.max(hi, ep.waiting);
  }
  const limit = lo + Math.floor((hi - lo) / n);
  return lowQueue(eps, limit, out);
}

export function leastKvCache(eps: readonly EndpointView[], out?: Buffers): readonly EndpointView[] {
  const n = eps.length;
  if (n === 0) return eps;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const ep of eps) {
    lo = Math.min(lo, ep.kvCacheUsage);
    hi = Math.max(hi, ep.kvCacheUsage);
  }
  const limit = lo + (hi - lo) / n;
  let m = 0;
  for (const ep of eps) if (ep.kvCacheUsage <= limit) m++;
  const kept = list(out, m);
  let k = 0;
  for (const ep of eps) if (ep.kvCacheUsage <= limit) kept[k++] = ep;
  return kept;
}

function loraActive(ep: EndpointView, target: string, v03: boolean): boolean {
  return ep.runningAdapters.has(target) || (!v03 && ep.waitingAdapters.has(target));
}

function loraAvailable(ep: EndpointView, v03: boolean): boolean {
  const used = v03 ? ep.runningAdapters.size : ep.runningAdapters.size + ep.waitingAdapters.size;
  return used < ep.maxLora;
}

/** v0.5 LoRA affinity filter (see header). */
export function loraAffinity(
  eps: readonly EndpointView[],
  target: string,
  threshold: number,
  rng: Rng,
  v03 = false,
  out?: Buffers,
): EndpointView[] {
  let nAffinity = 0;
  let nAvailable = 0;
  for (const ep of eps) {
    if (loraActive(ep, target, v03)) nAffinity++;
    if (loraAvailable(ep, v03)) nAvailable++;
  }
  let useAffinity = nAffinity > 0;
  if (nAffinity > 0 && nAvailable > 0) useAffinity = rng.next() < threshold;
  const kept = list(out, useAffinity ? nAffinity : nAvailable);
  let k = 0;
  for (const ep of eps) if (useAffinity ? loraActive(ep, target, v03) : loraAvailable(ep, v03)) kept[k++] = ep;
  return kept;
}

abstract class NamedFilter implements Filter {
  abstract readonly type: string;
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  abstract filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[];
}

export class LowQueueFilter extends NamedFilter {
  readonly type = "low-queue-filter";
  private readonly threshold: number;
  constructor(name: string, params: { threshold: number }) {
    super(name);
    this.threshold = params.threshold;
  }
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    return lowQueue(eps, this.threshold, cycle);
  }
}

export class LoraAffinityFilter extends NamedFilter {
  readonly type = "lora-affinity-filter";
  private readonly threshold: number;
  constructor(name: string, params: { threshold: number }) {
    super(name);
    this.threshold = params.threshold;
  }
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    const target = targetAdapter(cycle.req.adapter, cycle.req.model);
    return loraAffinity(eps, target, this.threshold, cycle.ctx.rng, false, cycle);
  }
}

export class LeastQueueFilter extends NamedFilter {
  readonly type = "least-queue-filter";
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    return leastQueue(eps, cycle);
  }
}

export class LeastKvCacheFilter extends NamedFilter {
  readonly type = "least-kv-cache-filter";
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    return leastKvCache(eps, cycle);
  }
}

/** The P/D role label and the roles each role filter accepts (llm-d-router filter/bylabel/roles.go L10–L75). */
export const ROLE_LABEL = "llm-d.ai/role";
const ROLE_VALUES: Readonly<Record<RoleFilterType, readonly string[]>> = {
  "decode-filter": ["decode", "prefill-decode", "both", "encode-prefill-decode"],
  "prefill-filter": ["prefill", "encode-prefill", "prefill-decode", "both", "encode-prefill-decode"],
  "encode-filter": ["encode", "encode-prefill", "encode-prefill-decode"],
};
export type RoleFilterType = "decode-filter" | "prefill-filter" | "encode-filter";
/** Every value of `llm-d.ai/role` some role filter keeps (a pod with another value is kept by none). */
export const ROLE_NAMES: readonly string[] = [...new Set(Object.values(ROLE_VALUES).flat())];

/** Keeps the endpoints whose labels `keep` accepts (allocation-free: a cycle buffer). */
abstract class LabelFilter extends NamedFilter {
  protected readonly labels: readonly Readonly<Record<string, string>>[];
  constructor(name: string, labels: readonly Readonly<Record<string, string>>[] | undefined) {
    super(name);
    this.labels = labels ?? [];
  }
  abstract keep(labels: Readonly<Record<string, string>>): boolean;
  /** Whether any replica of the cluster passes (a config that needs labels the pools lack is an error). */
  selectsAny(replicas: number): boolean {
    for (let i = 0; i < replicas; i++) if (this.keep(this.labels[i] ?? {})) return true;
    return false;
  }
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    let n = 0;
    for (let i = 0; i < eps.length; i++) if (this.keep(this.labels[eps[i]!.index] ?? {})) n++;
    if (n === eps.length) return eps;
    const out = cycle.buffer(n);
    let k = 0;
    for (let i = 0; i < eps.length; i++) {
      const e = eps[i]!;
      if (this.keep(this.labels[e.index] ?? {})) out[k++] = e;
    }
    return out;
  }
}

/**
 * `decode-filter`, `prefill-filter`, `encode-filter` (llm-d-router filter/bylabel/{filter.go L102–L115,roles.go}):
 * keep the pods whose `llm-d.ai/role` is one of the filter's roles; `decode-filter` also keeps pods without the
 * label (`allowsNoLabel`), the others do not.
 */
export class RoleFilter extends LabelFilter {
  readonly type: string;
  private readonly values: ReadonlySet<string>;
  private readonly allowsNoLabel: boolean;
  constructor(name: string, type: RoleFilterType, labels?: readonly Readonly<Record<string, string>>[]) {
    super(name, labels);
    this.type = type;
    this.values = new Set(ROLE_VALUES[type]);
    this.allowsNoLabel = type === "decode-filter";
  }
  keep(l: Readonly<Record<string, string>>): boolean {
    const v = l[ROLE_LABEL];
    return v === undefined ? this.allowsNoLabel : this.values.has(v);
  }
  /** The roles it accepts, for messages. */
  get roles(): readonly string[] {
    return [...this.values];
  }
}

/** `metav1.LabelSelector` (matchLabels; matchExpressions with In, NotIn, Exists, DoesNotExist). */
export const labelSelectorParams = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string().min(1),
        operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});
export type LabelSelectorParams = z.output<typeof labelSelectorParams>;

/**
 * `label-selector-filter` (deprecated aliases `by-label-selector`; llm-d-router filter/bylabel/selector.go): keeps
 * the pods a Kubernetes label selector matches (all of matchLabels and every expression).
 */
export class LabelSelectorFilter extends LabelFilter {
  readonly type = "label-selector-filter";
  private readonly sel: LabelSelectorParams;
  constructor(name: string, sel: LabelSelectorParams, labels?: readonly Readonly<Record<string, string>>[]) {
    super(name, labels);
    this.sel = sel;
  }
  keep(l: Readonly<Record<string, string>>): boolean {
    for (const [k, v] of Object.entries(this.sel.matchLabels ?? {})) if (l[k] !== v) return false;
    for (const e of this.sel.matchExpressions ?? []) {
      const v = l[e.key];
      const vals = e.values ?? [];
      if (e.operator === "In" && (v === undefined || !vals.includes(v))) return false;
      if (e.operator === "NotIn" && v !== undefined && vals.includes(v)) return false;
      if (e.operator === "Exists" && v === undefined) return false;
      if (e.operator === "DoesNotExist" && v !== undefined) return false;
    }
    return true;
  }
}

/** `by-label` (deprecated): one label, `validValues`, `allowsNoLabel` (filter/bylabel/filter.go L18–L60). */
export const byLabelParams = z.strictObject({
  label: z.string().min(1),
  validValues: z.array(z.string()).default([]),
  allowsNoLabel: z.boolean().default(false),
});

export class ByLabelFilter extends LabelFilter {
  readonly type = "by-label";
  private readonly p: z.output<typeof byLabelParams>;
  constructor(name: string, p: z.output<typeof byLabelParams>, labels?: readonly Readonly<Record<string, string>>[]) {
    super(name, labels);
    this.p = p;
  }
  keep(l: Readonly<Record<string, string>>): boolean {
    const v = l[this.p.label];
    return v === undefined ? this.p.allowsNoLabel : this.p.validValues.includes(v);
  }
}

export function isLabelFilter(p: unknown): p is { selectsAny(n: number): boolean; name: string; type: string } {
  return p instanceof LabelFilter;
}

// ---- decision tree -------------------------------------------------------------------------------------------

export interface TreeRef {
  pluginRef?: string | undefined;
  decisionTree?: TreeNode | undefined;
}
export interface TreeNode {
  current: TreeRef;
  nextOnSuccess?: TreeRef | undefined;
  nextOnFailure?: TreeRef | undefined;
  nextOnSuccessOrFailure?: TreeRef | undefined;
}

const treeRef: z.ZodType<TreeRef> = z.lazy(() =>
  z
    .strictObject({ pluginRef: z.string().min(1).optional(), decisionTree: treeNode.optional() })
    .refine((r) => (r.pluginRef === undefined) !== (r.decisionTree === undefined), {
      message: "expected exactly one of pluginRef or decisionTree",
    }),
);
const treeNode: z.ZodType<TreeNode> = z.lazy(() =>
  z.strictObject({
    current: treeRef,
    nextOnSuccess: treeRef.optional(),
    nextOnFailure: treeRef.optional(),
    nextOnSuccessOrFailure: treeRef.optional(),
  }),
);
export const decisionTreeParams = treeNode;

/** Every `pluginRef` named in a tree (for validation). */
export function treeRefs(node: TreeNode, out: string[] = []): string[] {
  const visit = (r: TreeRef | undefined): void => {
    if (r === undefined) return;
    if (r.pluginRef !== undefined) out.push(r.pluginRef);
    if (r.decisionTree !== undefined) treeRefs(r.decisionTree, out);
  };
  visit(node.current);
  visit(node.nextOnSuccess);
  visit(node.nextOnFailure);
  visit(node.nextOnSuccessOrFailure);
  return out;
}

export class DecisionTreeFilter extends NamedFilter {
  readonly type = "decision-tree-filter";
  private readonly root: TreeNode;
  private readonly lookup: (name: string) => Filter;

  constructor(name: string, root: TreeNode, lookup: (name: string) => Filter) {
    super(name);
    this.root = root;
    this.lookup = lookup;
  }

  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    return this.run(this.root, cycle, eps);
  }

  private runRef(ref: TreeRef, cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    if (ref.decisionTree !== undefined) return this.run(ref.decisionTree, cycle, eps);
    return this.lookup(ref.pluginRef!).filter(cycle, eps);
  }

  private run(node: TreeNode, cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    const out = this.runRef(node.current, cycle, eps);
    if (out.length > 0) {
      const next = node.nextOnSuccess ?? node.nextOnSuccessOrFailure;
      return next === undefined ? out : this.runRef(next, cycle, out);
    }
    const next = node.nextOnFailure ?? node.nextOnSuccessOrFailure;
    return next === undefined ? out : this.runRef(next, cycle, eps);
  }
}
