// EndpointPickerConfig import (docs/reference.md#endpointpickerconfig-loading-and-presets), presets, gateway schema.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.ts";
import {
  applyEppOverrides,
  eppConfigToObject,
  loadEppConfig,
  loadEppConfigFile,
  normalizeEppConfig,
} from "../src/policies/epp/config.ts";
import { createRouterFromEpp } from "../src/policies/epp/pipeline.ts";
import { EPP_PRESETS } from "../src/policies/epp/presets.ts";
import { POLICIES, policyNames } from "../src/policies/registry.ts";
import { createRouter, GatewaySchema } from "../src/policies/schema.ts";
import { context, endpoints, request, routerInit } from "../src/policies/testing.ts";

const DIR = "scenarios/epp";
const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));

function err(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("expected an InputError");
}

const HEAD = "apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n";

describe("the real configs in scenarios/epp", () => {
  it("has the examples of §2.10", () => {
    for (const f of [
      "gie-v1.0-default.yaml",
      "gie-default.yaml",
      "llm-d-pd.yaml",
      "gie-v0.5-decision-tree.yaml",
      "llm-d-token-aware.yaml",
      "flow-control.yaml",
    ]) {
      expect(files).toContain(f);
    }
  });
  it.each(files)("%s loads and routes", (f) => {
    const cfg = loadEppConfigFile(join(DIR, f));
    expect(cfg.schedulingProfiles.length).toBeGreaterThan(0);
    // Replica 0 prefills, the others decode (the P/D config's role filters need the labels).
    const labels = [{ "llm-d.ai/role": "prefill" }, { "llm-d.ai/role": "decode" }, { "llm-d.ai/role": "decode" }];
    const r = createRouter(GatewaySchema.parse({ epp_config: f }), routerInit(3, { labels }), DIR);
    const req = request([{ id: 1, tokens: 100 }]);
    const res = r.route(req, context(req, endpoints(3)));
    expect(res.refused).not.toBe(true);
  });
  it("every preset with a file is that file", () => {
    for (const p of EPP_PRESETS) {
      if (p.file === undefined) continue;
      const fromFile = eppConfigToObject(loadEppConfigFile(join(DIR, p.file)));
      expect(eppConfigToObject(POLICIES.get(p.name)!.epp!), p.name).toEqual(fromFile);
    }
  });
  it("defaulting: names from types, single-profile-handler, max-score-picker, weight 1", () => {
    const cfg = loadEppConfigFile(join(DIR, "gie-v1.0-default.yaml"));
    // Today's loader adds, after the config's plugins: the profile handler, the picker, the flow-control policies,
    // the default parsers and the saturation detector (llm-d-router pkg/epp/config/loader/defaults.go).
    expect(cfg.plugins.map((p) => p.name).filter((n) => !DEFAULTS_AFTER.includes(n))).toEqual([
      "queue-scorer",
      "kv-cache-utilization-scorer",
      "prefix-cache-scorer",
      "single-profile-handler",
      "max-score-picker",
    ]);
    expect(cfg.schedulingProfiles).toEqual([
      {
        name: "default",
        plugins: [
          { pluginRef: "queue-scorer", weight: 1 },
          { pluginRef: "kv-cache-utilization-scorer", weight: 1 },
          { pluginRef: "prefix-cache-scorer", weight: 1 },
          { pluginRef: "max-score-picker" },
        ],
      },
    ]);
  });
  it("no schedulingProfiles → one default profile with every filter, scorer and picker", () => {
    const cfg = loadEppConfig(
      `${HEAD}plugins:\n- type: queue-scorer\n- type: low-queue-filter\n- type: weighted-random-picker\n- type: utilization-detector\n`,
      "x.yaml",
    );
    expect(cfg.schedulingProfiles).toEqual([
      {
        name: "default",
        plugins: [
          { pluginRef: "queue-scorer", weight: 1 },
          { pluginRef: "low-queue-filter" },
          { pluginRef: "weighted-random-picker" },
        ],
      },
    ]);
  });
  it("the flow-control sections are kept for the admission layer; aliases resolve", () => {
    const cfg = loadEppConfigFile(join(DIR, "flow-control.yaml"));
    expect(cfg.featureGates).toEqual(["flowControl"]);
    expect(cfg.saturationDetector).toEqual({ pluginRef: "utilization-detector" });
    expect(cfg.flowControl?.defaultRequestTTL).toBe("60s");
    const v2 = loadEppConfigFile(join(DIR, "gie-v0.5-plugins-v2.yaml"));
    expect(v2.plugins[1]).toMatchObject({ name: "kv-cache-scorer", type: "kv-cache-utilization-scorer" });
  });
});

const DEFAULTS_AFTER = [
  "fcfs-ordering-policy",
  "global-strict-fairness-policy",
  "static-usage-limit-policy",
  "openai-parser",
  "anthropic-parser",
  "vllmhttp-parser",
  "passthrough-parser",
  "utilization-detector",
];

describe("config errors name the file, line, plugin and accepted values", () => {
  it("unknown plugin type", () => {
    const m = err(() => loadEppConfig(`${HEAD}plugins:\n- type: queue-scorer\n- type: foo-scorer\n`, "bad.yaml"));
    expect(m).toMatch(/^bad\.yaml:5: plugins\.1\.type: unknown plugin type "foo-scorer"/);
    expect(m).toContain("gatelab policies --plugins");
    expect(err(() => loadEppConfig(`${HEAD}plugins:\n- type: queue-scorrer\n`, "t.yaml"))).toContain(
      'did you mean "queue-scorer"?',
    );
  });
  it("a parameter past its bound is said as the scenario says it, with the value written", () => {
    const load = (params: string) =>
      err(() => loadEppConfig(`${HEAD}plugins:\n- type: prefix-cache-scorer\n  parameters: {${params}}\n`, "b.yaml"));
    // zod said "Too small: expected number to be >0, got number".
    expect(load("blockSize: 0")).toContain(
      'plugins.0.parameters.blockSize: plugin "prefix-cache-scorer" (type prefix-cache-scorer): expected a number > 0, got 0',
    );
    expect(load("maxPrefixBlocksToMatch: -5")).toContain(
      'plugins.0.parameters.maxPrefixBlocksToMatch: plugin "prefix-cache-scorer" (type prefix-cache-scorer): expected a number ≥ 0, got -5',
    );
  });
  it("known but not simulated: loads, refused when run", () => {
    // (latency-scorer, the example here before, is simulated since the latency predictor landed.)
    const cfg = loadEppConfig(`${HEAD}plugins:\n- type: multicluster-queue-scorer\n`, "x.yaml");
    expect(() => createRouterFromEpp(cfg, routerInit(2))).toThrow(
      /x\.yaml: plugin "multicluster-queue-scorer" \(type multicluster-queue-scorer\): recognised, not simulated: multi-cluster is not simulated/,
    );
  });
  it("unknown parameter", () => {
    const m = err(() =>
      loadEppConfig(
        `${HEAD}plugins:\n- type: prefix-cache-scorer\n  name: pfx\n  parameters:\n    lruCapacity: 5\n`,
        "p.yaml",
      ),
    );
    expect(m).toMatch(
      /^p\.yaml:7: plugins\.0\.parameters\.lruCapacity: plugin "pfx" \(type prefix-cache-scorer\): unknown parameter "lruCapacity"; accepted parameters: .*lruCapacityPerServer/,
    );
    expect(
      err(() => loadEppConfig(`${HEAD}plugins:\n- type: queue-scorer\n  parameters: {x: 1}\n`, "q.yaml")),
    ).toContain('plugin "queue-scorer" (type queue-scorer): unknown parameter "x"; accepted parameters: none');
    expect(
      err(() =>
        loadEppConfig(`${HEAD}plugins:\n- type: prefix-cache-scorer\n  parameters: {blockSizeTokenz: 16}\n`, "r.yaml"),
      ),
    ).toContain('unknown parameter "blockSizeTokenz" (did you mean "blockSizeTokens"?); accepted parameters: ');
  });
  it("bad parameter values", () => {
    expect(
      err(() =>
        loadEppConfig(
          `${HEAD}plugins:\n- type: prefix-cache-affinity-filter\n  parameters:\n    ttftSource: predictor\n`,
          "a.yaml",
        ),
      ),
    ).toMatch(
      /a\.yaml:6: plugins\.0\.parameters\.ttftSource: .*expected "prefillThroughput" \| "latencyPredictor", got "predictor"/,
    );
    expect(
      err(() =>
        loadEppConfig(
          `${HEAD}plugins:\n- type: utilization-detector\n  parameters: {metricsStalenessThreshold: soon}\n`,
          "d.yaml",
        ),
      ),
    ).toContain('expected a duration such as "200ms"');
    expect(
      err(() => loadEppConfig(`${HEAD}plugins:\n- type: low-queue-filter\n  parameters: {threshold: "5"}\n`, "l.yaml")),
    ).toContain('expected number, got "5"');
  });
  it("bad weights", () => {
    const base = `${HEAD}plugins:\n- type: queue-scorer\n- type: low-queue-filter\nschedulingProfiles:\n- name: default\n  plugins:\n`;
    expect(err(() => loadEppConfig(`${base}  - pluginRef: queue-scorer\n    weight: two\n`, "w.yaml"))).toMatch(
      /^w\.yaml:10: schedulingProfiles\.0\.plugins\.0\.weight: profile "default": scorer "queue-scorer": weight must be a number ≥ 0 \(int or float\), got "two"/,
    );
    expect(err(() => loadEppConfig(`${base}  - pluginRef: queue-scorer\n    weight: -1\n`, "w.yaml"))).toContain(
      "got -1",
    );
    expect(loadEppConfig(`${base}  - pluginRef: low-queue-filter\n    weight: 2\n`, "w.yaml").notes).toContain(
      'profile "default": weight of "low-queue-filter" ignored (a filter; only scorers take one)',
    );
    expect(
      loadEppConfig(`${base}  - pluginRef: queue-scorer\n    weight: 2.5\n`, "w.yaml").schedulingProfiles[0]!
        .plugins[0],
    ).toEqual({
      pluginRef: "queue-scorer",
      weight: 2.5,
    });
  });
  it("references, duplicates, pickers, handlers", () => {
    const base = `${HEAD}plugins:\n- type: queue-scorer\n`;
    expect(
      err(() => loadEppConfig(`${base}schedulingProfiles:\n- name: a\n  plugins:\n  - pluginRef: nope\n`, "r.yaml")),
    ).toMatch(/r\.yaml:8: .*references undefined plugin "nope"; plugins: "queue-scorer"/);
    expect(err(() => loadEppConfig(`${base}- type: queue-scorer\n`, "d.yaml"))).toContain(
      'duplicate plugin name "queue-scorer"',
    );
    expect(err(() => loadEppConfig(`${base}- type: random-picker\n- type: max-score-picker\n`, "p.yaml"))).toContain(
      "has 2 pickers",
    );
    expect(err(() => loadEppConfig(`${base}schedulingProfiles:\n- name: a\n- name: b\n`, "h.yaml"))).toContain(
      "2 scheduling profiles and no profile handler configured",
    );
    expect(
      err(() =>
        loadEppConfig(
          `${base}- type: decision-tree-filter\n  parameters:\n    current: {pluginRef: queue-scorer}\n`,
          "t.yaml",
        ),
      ),
    ).toContain('refers to "queue-scorer" (a scorer); expected a filter or detector');
    expect(err(() => loadEppConfig(`${base}saturationDetector: {pluginRef: queue-scorer}\n`, "s.yaml"))).toContain(
      'plugin "queue-scorer" is a scorer, not a saturation detector',
    );
  });
  it("strict top level, apiVersion, kind, YAML syntax", () => {
    expect(err(() => loadEppConfig(`${HEAD}plugins: []\nextra: 1\n`, "t.yaml"))).toMatch(
      /t\.yaml:4: extra: unknown field "extra"; accepted: apiVersion, kind/,
    );
    expect(err(() => loadEppConfig("apiVersion: v1\nkind: EndpointPickerConfig\nplugins: []\n", "v.yaml"))).toContain(
      'expected "llm-d.ai/v1alpha1" | "inference.networking.x-k8s.io/v1alpha1" (router variant llm-d-router-2026-08), got "v1"',
    );
    expect(err(() => loadEppConfig(`${HEAD}plugins:\n- type: [\n`, "y.yaml"))).toMatch(
      /^y\.yaml:\d+: YAML syntax error/,
    );
    expect(err(() => loadEppConfig("", "e.yaml"))).toContain("expected an EndpointPickerConfig mapping");
    // A file that is not YAML at all parses as one long string: the message shows its start and length, not all of it.
    const passwd = Array.from({ length: 40 }, (_, i) => `user${i}:x:${1000 + i}:${1000 + i}::/home/user${i}:/bin/sh`);
    const long = err(() => loadEppConfig(passwd.join("\n"), "passwd"));
    expect(long).toContain('got "user0:x:1000:1000::/home/user0:/bin/sh user1:x:100…" (1619 characters)');
    expect(long.length).toBeLessThan(250);
    expect(err(() => loadEppConfig("just a word", "w.yaml"))).toContain('got "just a word"');
    // A scenario given where the config goes: said so, with the scenario fields that tell it.
    expect(err(() => loadEppConfig("name: x\npools: []\nworkload: {}\n", "s.yaml"))).toContain(
      "this is a gatelab scenario (it has pools, workload), not an EndpointPickerConfig",
    );
    expect(err(() => loadEppConfigFile("/nonexistent/x.yaml"))).toContain("cannot read");
  });
});

describe("params overrides", () => {
  const base = POLICIES.get("gie-default")!.epp!;
  it("<plugin>.weight and <plugin>.<parameter>", () => {
    const c = applyEppOverrides(base, {
      "prefix-cache-scorer.weight": 5,
      "prefix-cache-scorer.lruCapacityPerServer": 10,
    });
    expect(c.schedulingProfiles[0]!.plugins.find((r) => r.pluginRef === "prefix-cache-scorer")!.weight).toBe(5);
    expect(
      (c.plugins.find((p) => p.name === "prefix-cache-scorer")!.parsed as { lruCapacityPerServer: number })
        .lruCapacityPerServer,
    ).toBe(10);
    expect(base.schedulingProfiles[0]!.plugins[2]!.weight).toBe(3); // the preset is untouched
  });
  it("errors name the key and the plugins", () => {
    expect(err(() => applyEppOverrides(base, { "nope.weight": 1 }))).toContain(
      '"nope.weight": expected "<plugin name>.weight"',
    );
    expect(err(() => applyEppOverrides(base, { "queue-scorer.bogus": 1 }))).toContain('unknown parameter "bogus"');
    expect(err(() => applyEppOverrides(base, { "queue-scorer.weight": "x" }))).toContain("weight must be a number");
  });
});

describe("gateway schema and createRouter", () => {
  it("defaults", () => {
    expect(GatewaySchema.parse({})).toEqual({
      epp_variant: "llm-d-router-2026-08",
      scrape_interval_ms: 50,
      kv_event_delay_ms: 50,
      params: {},
    });
  });
  it("rejects unknown policies, unknown keys, policy with epp_config", () => {
    const r = GatewaySchema.safeParse({ policy: "nope" });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/unknown policy "nope"; accepted: round-robin, .*gie-default/);
    expect(GatewaySchema.safeParse({ polcy: "x" }).success).toBe(false);
    expect(GatewaySchema.safeParse({ policy: "gie-default", epp_config: "x.yaml" }).success).toBe(false);
  });
  it("every registered policy builds and routes", () => {
    for (const name of policyNames()) {
      const r = createRouter(GatewaySchema.parse({ policy: name }), routerInit(4), ".");
      const req = request([{ id: 3, tokens: 40 }], { session: "s" });
      const res = r.route(req, context(req, endpoints(4)));
      expect(res.refused, name).not.toBe(true);
      if (!res.refused) r.onDispatch?.(req, res.replica, 0);
    }
  });
  it("epp_config: a path relative to the scenario, or inline; params apply", () => {
    const dir = mkdtempSync(join(tmpdir(), "gatelab-epp-"));
    writeFileSync(join(dir, "c.yaml"), readFileSync(join(DIR, "gie-default.yaml"), "utf8"));
    const r = createRouter(
      GatewaySchema.parse({ epp_config: "c.yaml", params: { "queue-scorer.weight": 0 } }),
      routerInit(2),
      dir,
    );
    expect(r.name).toBe("c.yaml");
    const inline = createRouter(
      GatewaySchema.parse({
        epp_config: {
          apiVersion: "llm-d.ai/v1alpha1",
          kind: "EndpointPickerConfig",
          plugins: [{ type: "queue-scorer" }],
        },
      }),
      routerInit(2),
      dir,
    );
    const req = request([{ id: 1, tokens: 8 }]);
    expect(inline.route(req, context(req, endpoints([{ waiting: 3 }, { waiting: 1 }])))).toEqual({ replica: 1 });
    expect(err(() => createRouter(GatewaySchema.parse({ epp_config: "missing.yaml" }), routerInit(2), dir))).toContain(
      'gateway.epp_config: "missing.yaml": cannot read the EndpointPickerConfig (no such file)',
    );
  });
  it("params for routers: <policy>.<parameter>", () => {
    const r = createRouter(
      GatewaySchema.parse({ policy: "dynamo-kv", params: { "dynamo-kv.temperature": 0.5 } }),
      routerInit(2),
      ".",
    );
    expect(r.name).toBe("dynamo-kv");
    expect(
      err(() =>
        createRouter(GatewaySchema.parse({ policy: "dynamo-kv", params: { "dynamo-kv.temp": 1 } }), routerInit(2), "."),
      ),
    ).toContain('unknown parameter "dynamo-kv.temp" for policy dynamo-kv; accepted: dynamo-kv.overlapScoreWeight');
    expect(
      err(() =>
        createRouter(
          GatewaySchema.parse({ policy: "dynamo-kv", params: { "dynamo-kv.temperature": -1 } }),
          routerInit(2),
          ".",
        ),
      ),
    ).toContain('"dynamo-kv.temperature"');
    expect(
      err(() => createRouter(GatewaySchema.parse({ policy: "round-robin", params: { x: 1 } }), routerInit(2), ".")),
    ).toContain("takes no parameters");
  });
  it("presets validate as configs (no preset is broken)", () => {
    for (const p of EPP_PRESETS) expect(() => normalizeEppConfig(p.config, p.name)).not.toThrow();
  });
});
