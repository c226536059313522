// The 231 real EndpointPickerConfigs of ../shared/data/epp-configs/ against the real loaders' verdicts: every
// `accept` config runs (on a 300-request scenario) or is refused as recognised-not-simulated with its reason; every
// `reject` exits 2 naming the problem the real loader test names; at least 90 % of the deploy configs and Helm
// renders run. Each folder is judged with the loader of its source (llm-d-router → today's router, GIE release-1.5
// and llm-d-inference-scheduler → gie-r1.5).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { runScenario } from "../src/lab/run.ts";
import { PLUGIN_TYPES, registryCounts } from "../src/policies/epp/catalog.ts";
import { loadEppConfig } from "../src/policies/epp/config.ts";
import { loadScenario } from "../src/scenario.ts";
import { captureOutput } from "./helpers/capture.ts";

const DIR = "../shared/data/epp-configs";
const SMALL = "test/fixtures/gateway-small.yaml";
/** The same workload on role-labelled pools (encode, prefill, 2 decode), for configs that select on labels. */
const SMALL_PD = "test/fixtures/gateway-small-pd.yaml";

interface Entry {
  readonly file: string;
  readonly kind: string;
  readonly real_loader: "accept" | "reject";
  readonly reason: string;
  readonly test_only_plugin_types: readonly string[];
}

const INDEX = JSON.parse(readFileSync(`${DIR}/index.json`, "utf8")) as Entry[];

function variantOf(file: string): string {
  return file.startsWith("gie-release-1.5/") || file.startsWith("llm-d-inference-scheduler/")
    ? "gie-r1.5"
    : "llm-d-router-2026-08";
}

/**
 * Docs examples the corpus marks `accept` only because no test runs them; the real strict decoder would refuse them
 * too (apix/config scheme groups, strict fields), and gatelab says why.
 */
const DOCS_NOT_CONFIGS: ReadonlyMap<string, RegExp> = new Map([
  // apiVersion of no scheme the loaders register (`config.x-k8s.io`), and a `# ...` placeholder for the rest.
  ["gie-release-1.5/guides_flow-control.yaml", /apiVersion: expected .*got "config\.x-k8s\.io\/v1alpha1"/],
  [
    "gie-release-1.5/plugins_requestcontrol_requestattributereporter_readme.yaml",
    /apiVersion: expected .*got "config\.apix\.gateway-api-inference-extension/,
  ],
  // `data:` for `dataLayer:` (a typo in the README; strict decoding rejects unknown fields).
  ["llm-d-inference-scheduler/plugins_datalayer_source_models_readme.yaml", /data: unknown field "data"/],
]);

/** What each real loader test case's name says went wrong → what gatelab's message must name. */
const REJECT_REASONS: readonly [RegExp, RegExp][] = [
  [/^bad extractor reference/, /extractors/],
  [/^invalid json parameters/, /blockSize: .*expected number/],
  [/^unknown plugin type/, /unknown plugin type "unknown-plugin-type"/],
  [/^missing type field/, /missing a type/],
  [/^profile references undefined plugin/, /references undefined plugin "non-existent-plugin"/],
  [/^missing pluginref in profile/, /missing a 'pluginRef'/],
  [/^bad source reference/, /is not a data source/],
  [/^invalid yaml/, /plugins\.0: expected object/],
  [/^duplicate plugin name/, /duplicate plugin name/],
  [/^duplicate profile name/, /duplicate name "default"/],
  [/^missing policy plugin/, /plugin "non-existent-policy" not found/],
  [/^wrong plugin type \(flowcontrol/, /"testScorer" is a scorer, not an ordering policy/],
  [/^multi-profile with single handler/, /single-profile-handler .* cannot run 2 scheduling profiles/],
  [/^missing profile handler/, /no profile handler/],
  [/^missing profile name/, /missing a name/],
  [/^wrong parser name/, /parser references undefined plugin "wrongParser"/],
  [/^wrong plugin type \(parser/, /"maxScore" is not a parser plugin/],
  [/^two pickers/, /2 pickers/],
  [/^multiple profile handlers/, /multiple profile handlers/],
  [/^undefined saturation detector plugin/, /saturation detector references undefined plugin "unknown-plugin"/],
  [/^unknown feature gate/, /feature gate "unknown-gate" is unknown or unregistered/],
  [/^bad feature gate/, /"qwerty" is not a valid value for the feature gate flowControl/],
  [/^errorPluginsRefedInLoop/, /cycle: test1 → test1/],
];

const small = loadScenario(SMALL);
const smallPd = loadScenario(SMALL_PD);

type Outcome = { kind: "ran"; completed: number } | { kind: "refused"; message: string };

function outcome(e: Entry): Outcome {
  const run = (loaded: typeof small): Outcome => {
    try {
      const out = runScenario(loaded, { eppConfig: `${DIR}/${e.file}`, eppVariant: variantOf(e.file) });
      return { kind: "ran", completed: out.summary.outcomes.completed };
    } catch (err) {
      return { kind: "refused", message: (err as Error).message };
    }
  };
  const o = run(small);
  // A config whose label or role filters keep no unlabelled replica is refused on unlabelled pools, and runs on
  // labelled ones.
  if (o.kind === "refused" && /keeps no replica: no pool carries the labels/.test(o.message)) return run(smallPd);
  return o;
}

describe("the EndpointPickerConfig corpus (../shared/data/epp-configs)", () => {
  const io = captureOutput();
  const accepted = INDEX.filter((e) => e.real_loader === "accept");
  const results = new Map<string, Outcome>();

  it("every accept config runs, or is refused as recognised-not-simulated with its reason", () => {
    for (const e of accepted) {
      const o = outcome(e);
      results.set(e.file, o);
      const docs = DOCS_NOT_CONFIGS.get(e.file);
      if (docs !== undefined) {
        expect(o.kind, e.file).toBe("refused");
        if (o.kind === "refused") expect(o.message, e.file).toMatch(docs);
        continue;
      }
      if (o.kind === "ran") continue;
      expect(o.message, e.file).toMatch(/recognised, not simulated: \S.{10,}/);
      // The refused type is one the registry knows as not simulated or test-only.
      const t = /\(type ([a-z0-9-]+)\)/.exec(o.message)?.[1];
      const status = PLUGIN_TYPES.get(t ?? "")?.status;
      expect(["not-simulated", "test-only"], `${e.file}: ${o.message}`).toContain(status);
      if (status === "test-only") expect(e.test_only_plugin_types.length + e.kind.length).toBeGreaterThan(0);
    }
    const ran = [...results.values()].filter((o) => o.kind === "ran").length;
    // Counts stated in docs/gateway.md ("The config corpus").
    expect(ran).toBeGreaterThanOrEqual(139);
    // The README and docs/gateway.md state the count.
    const readme = readFileSync("README.md", "utf8").replace(/\s+/g, " ");
    expect(readme).toContain(`${ran} of the 183 the real loaders accept run`);
    expect(readFileSync("docs/gateway.md", "utf8").replace(/\s+/g, " ")).toContain(`| 183 | ${ran} run on`);
  }, 120_000);

  it("runs at least 90 % of the deploy configs and Helm renders", () => {
    const deploy = accepted.filter((e) => e.kind === "deploy config" || e.kind === "helm render");
    const ran = deploy.filter((e) => (results.get(e.file) ?? outcome(e)).kind === "ran");
    expect(deploy.length).toBe(41);
    // docs/gateway.md "The config corpus": 40 of 41 (97.6 %); the target is 90 % (37). The docs name the one left.
    expect(ran.length).toBeGreaterThanOrEqual(40);
    expect(ran.length / deploy.length).toBeGreaterThanOrEqual(0.9);
    const stated = `${ran.length} of 41`;
    expect(readFileSync("README.md", "utf8").replace(/\s+/g, " ")).toContain(
      `${stated} deploy configs and Helm renders`,
    );
    expect(readFileSync("docs/gateway.md", "utf8")).toContain(`Deploy configs and Helm renders: ${stated} run`);
    // The flow-control deploy configs run (program-aware fairness, the soft-reflective ceiling), and the DCGM one.
    for (const f of [
      "deploy_sim-program-aware-config.yaml",
      "deploy_soft-reflective-ceiling-epp-config.yaml",
      "deploy_sim-epp-gpu-config.yaml",
    ])
      expect(results.get(`llm-d-router/${f}`)?.kind ?? outcome({ file: `llm-d-router/${f}` } as Entry).kind).toBe(
        "ran",
      );
  });

  it("every reject config exits 2 naming the problem the real loader test names", async () => {
    const rejected = INDEX.filter((e) => e.real_loader === "reject");
    expect(rejected.length).toBe(48);
    for (const e of rejected) {
      const want = REJECT_REASONS.find(([r]) => r.test(e.reason));
      expect(want, `no expectation for reason "${e.reason}"`).toBeDefined();
      io.err = "";
      const code = await main(["run", SMALL, "--epp-config", `${DIR}/${e.file}`, "--epp-variant", variantOf(e.file)]);
      expect(code, e.file).toBe(2);
      expect(io.err, e.file).toContain(e.file);
      expect(io.err, `${e.file} (${e.reason})`).toMatch(want![1]);
    }
  }, 60_000);

  it("docs/gateway.md states the registry's counts", () => {
    const doc = readFileSync("docs/gateway.md", "utf8");
    for (const [status, n] of Object.entries(registryCounts())) expect(doc).toContain(`| ${status} | ${n} |`);
  });

  it("an unknown type says so, with a did-you-mean", () => {
    const text = readFileSync(`${DIR}/llm-d-router/deploy_epp-precise-prefix-cache-config.yaml`, "utf8").replace(
      "type: kv-cache-utilization-scorer",
      "type: kv-cache-utilisation-scorer",
    );
    expect(() => loadEppConfig(text, "typo.yaml")).toThrow(
      /typo\.yaml:\d+: plugins\.\d+\.type: unknown plugin type "kv-cache-utilisation-scorer"; did you mean "kv-cache-utilization-scorer"/,
    );
  });

  it("a no-op plugin runs with a note saying it cannot change routing", () => {
    const out = runScenario(small, { eppConfig: `${DIR}/llm-d-router/helm__routerlib_payload-agnostic.yaml` });
    const notes = out.summary.notes ?? [];
    expect(notes.some((n) => /passthrough-parser.*no-op/.test(n))).toBe(true);
  });
});
