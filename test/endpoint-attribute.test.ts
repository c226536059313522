// endpoint-attribute-filter / -scorer and the DCGM GPU-utilization attribute (src/policies/epp/endpoint-attribute.ts),
// values computed by hand.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import {
  DcgmGpuUtilization,
  EndpointAttributeFilter,
  EndpointAttributeScorer,
  endpointAttributeFilterParams,
  endpointAttributeScorerParams,
} from "../src/policies/epp/endpoint-attribute.ts";
import type { Cycle, GpuUtilizationSource } from "../src/policies/epp/framework.ts";
import type { EndpointView } from "../src/policies/types.ts";
import { loadScenario } from "../src/scenario.ts";

const view = (index: number, scrapeTime = 0, gpuBusyTime = 0) => ({ index, scrapeTime, gpuBusyTime }) as EndpointView;
const cycle = { buffer: (n: number) => new Array<EndpointView>(n) } as unknown as Cycle;
const GPU = { attribute: "GPUUtilization", producer: "dcgm-extractor" };
const fixed = (utils: number[]): GpuUtilizationSource => ({ value: (ep) => utils[ep.index]! });

describe("DCGM GPU utilization", () => {
  it("a poll reports the busy share of the time since the previous poll; nothing before the first", () => {
    const d = new DcgmGpuUtilization(1, 1);
    expect(d.value(view(0, 0.5, 0.2))).toBeNaN(); // first poll (period 0): the baseline
    expect(d.value(view(0, 0.95, 0.6))).toBeNaN(); // same period: no new poll
    // Period 1: (0.5 − 0.2) / (1.05 − 0.5).
    expect(d.value(view(0, 1.05, 0.5))).toBeCloseTo(0.3 / 0.55, 12);
    expect(d.value(view(0, 1.5, 0.9))).toBeCloseTo(0.3 / 0.55, 12); // held until the next poll
    expect(d.value(view(0, 2, 1))).toBeCloseTo(0.5 / 0.95, 12);
  });
});

describe("endpoint-attribute-filter", () => {
  const eps = [view(0), view(1), view(2)];
  const utils = fixed([0.95, 0.5, Number.NaN]);
  const filter = (extra: Record<string, unknown>) =>
    new EndpointAttributeFilter(
      "f",
      endpointAttributeFilterParams.parse({
        ...GPU,
        algorithm: { type: "threshold", threshold: { operator: "LessThanOrEqual", value: 0.9 } },
        ...extra,
      }),
      utils,
    );

  it("threshold; a missing attribute passes (default onMissing Pass) or fails", () => {
    expect(
      filter({})
        .filter(cycle, eps)
        .map((e) => e.index),
    ).toEqual([1, 2]);
    expect(
      filter({ onMissing: "Fail" })
        .filter(cycle, eps)
        .map((e) => e.index),
    ).toEqual([1]);
  });

  it("fallbackOnEmpty keeps every endpoint when none passes", () => {
    const none = { algorithm: { type: "threshold", threshold: { operator: "LessThan", value: 0.1 } } };
    expect(filter({ ...none, onMissing: "Fail" }).filter(cycle, eps)).toEqual([]);
    expect(filter({ ...none, onMissing: "Fail", fallbackOnEmpty: true }).filter(cycle, eps)).toBe(eps);
  });

  it("validates as the real factory does", () => {
    expect(() => endpointAttributeFilterParams.parse({ ...GPU, algorithm: { type: "threshold" } })).toThrow(
      /requires algorithm\.threshold/,
    );
    expect(() =>
      endpointAttributeFilterParams.parse({
        ...GPU,
        onMissing: "Skip",
        algorithm: { type: "threshold", threshold: { operator: "LessThan", value: 1 } },
      }),
    ).toThrow(/onMissing must be .*Pass.* or .*Fail/);
  });
});

describe("endpoint-attribute-scorer", () => {
  const eps = [view(0), view(1), view(2)];
  const utils = fixed([0.95, 0.5, Number.NaN]);
  const score = (algorithm: unknown) => {
    const s = new EndpointAttributeScorer(
      "s",
      endpointAttributeScorerParams.parse({ attributeKey: GPU.attribute, producer: GPU.producer, algorithm }),
      utils,
    );
    const out = new Float64Array(3);
    s.score(cycle, eps, out);
    return [...out];
  };

  it("fixed range: (v − min)/(max − min), lower is better; missing → 0", () => {
    const r = score({ type: "linear_lower_is_better", normalization: { fixedRange: { min: 0, max: 1 } } });
    expect(r[0]).toBeCloseTo(0.05, 12);
    expect(r.slice(1)).toEqual([0.5, 0]);
  });

  it("adaptive range: min-max over the endpoints that have the attribute", () => {
    expect(score({ type: "linear_lower_is_better" })).toEqual([0, 1, 0]);
    expect(score({ type: "linear_higher_is_better" })).toEqual([1, 0, 0]);
  });

  it("fixedRange needs min < max; an attribute gatelab does not model is refused", () => {
    expect(() =>
      endpointAttributeScorerParams.parse({
        attributeKey: "x",
        algorithm: { type: "linear_lower_is_better", normalization: { fixedRange: { min: 1, max: 1 } } },
      }),
    ).toThrow(/requires min < max/);
    expect(
      () =>
        new EndpointAttributeScorer(
          "s",
          endpointAttributeScorerParams.parse({
            attributeKey: "FanSpeed",
            algorithm: { type: "linear_lower_is_better" },
          }),
          undefined,
        ),
    ).toThrow(/recognised, not simulated: attribute "FanSpeed" is not modelled/);
  });
});

describe("the DCGM deploy config", () => {
  const CFG = "../shared/data/epp-configs/llm-d-router/deploy_sim-epp-gpu-config.yaml";
  const small = loadScenario("test/fixtures/gateway-small.yaml");

  it("runs, with the note on what GPU utilization is", () => {
    const out = runScenario(small, { eppConfig: CFG });
    expect(out.summary.requests.completed).toBe(out.summary.requests.total);
    expect((out.summary.notes ?? []).some((n) => /dcgm-extractor.*share of each DCGM poll interval/.test(n))).toBe(
      true,
    );
  });

  it("without the data-layer wiring the attribute is missing: the filter keeps all, the scorer gives 0", () => {
    const text = readFileSync(CFG, "utf8");
    const dir = mkdtempSync(join(tmpdir(), "gatelab-dcgm-"));
    // No dataLayer section: the same run as the config without the attribute plugins.
    const noDcgm = text.replace(/dataLayer:[\s\S]*?(?=schedulingProfiles:)/, "");
    const without = noDcgm
      .replace(/ {2}- pluginRef: gpu-utilization-filter\n/, "")
      .replace(/ {2}- pluginRef: gpu-utilization-scorer\n {4}weight: 2\.0\n/, "");
    expect(without).not.toMatch(/pluginRef: gpu-utilization/);
    writeFileSync(join(dir, "a.yaml"), noDcgm);
    writeFileSync(join(dir, "b.yaml"), without);
    const a = runScenario(small, { eppConfig: join(dir, "a.yaml") }).summary;
    const b = runScenario(small, { eppConfig: join(dir, "b.yaml") }).summary;
    expect(a.replicas.map((r) => r.routed)).toEqual(b.replicas.map((r) => r.routed));
    expect(a.ttft_ms).toEqual(b.ttft_ms);
    // With DCGM wired the utilization changes decisions.
    const c = runScenario(small, { eppConfig: CFG }).summary;
    expect(c.replicas.map((r) => r.routed)).not.toEqual(b.replicas.map((r) => r.routed));
  });
});
