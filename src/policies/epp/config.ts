/**
 * Import of a real `EndpointPickerConfig` (the Endpoint Picker's plugin configuration, as deployed with GIE or
 * llm-d) into gatelab's routing pipeline.
 *
 * Source: GIE `pkg/epp/config/loader/{loader.go,defaults.go}` (v1.0 → GIE last), llm-d-router HEAD
 * `pkg/epp/config/loader/*`; schema and defaulting rules: docs/reference.md#endpointpickerconfig-loading-and-presets.
 * - `apiVersion` `inference.networking.x-k8s.io/v1alpha1` (GIE) or `llm-d.ai/v1alpha1` (llm-d-router); `kind`
 *   `EndpointPickerConfig`. Top-level decoding is strict: unknown keys are errors.
 * - `plugins[]`: `name` (defaults to `type`), `type` (aliases such as `kv-cache-scorer` accepted), `parameters`
 *   (validated per plugin type: unknown parameters, wrong types and bad values are errors).
 * - Defaulting: no `schedulingProfiles` → one profile `default` referencing every filter, scorer and picker; exactly
 *   one profile and no handler → `single-profile-handler`; a profile without a picker gets `max-score-picker`
 *   (`maxNumOfEndpoints` 1); a scorer reference without `weight` → 1. Weights are numbers ≥ 0 (int in GIE ≤ v1.3,
 *   float from v1.4; both accepted) and only scorers take one. A profile has at most one picker.
 * - `saturationDetector`, `flowControl`, `featureGates`, `dataLayer`, `parser`, `requestHandler` are kept on the
 *   loaded config for the admission layer; they do not change routing.
 * Errors are `InputError`s naming the file, the line (when the config came from a file), the plugin and the
 * accepted values, e.g. `x.yaml:5: plugins.1.type: unknown plugin type "foo-scorer"; accepted types: …`.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { InputError, inputError, numberBoundText, readTextInput, type SchemaIssue } from "../../errors.ts";
import { closest } from "../../suggest.ts";
import {
  canonicalType,
  didYouMean,
  PLUGIN_TYPES,
  type PluginKind,
  type PluginTypeInfo,
  profileRole,
} from "./catalog.ts";
import { type EppVariant, type EppVariantName, eppVariant } from "./variants.ts";

export const EPP_API_VERSIONS = ["inference.networking.x-k8s.io/v1alpha1", "llm-d.ai/v1alpha1"] as const;
export const EPP_KIND = "EndpointPickerConfig";

export interface EppPlugin {
  readonly name: string;
  /** Canonical type (aliases resolved). */
  readonly type: string;
  /** Type as written in the config. */
  readonly declaredType: string;
  /** Parameters as written (for overrides and display). */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Parameters validated and defaulted by the type's schema. */
  readonly parsed: unknown;
  /** Added by the loader's defaulting, not written in the config. */
  readonly defaulted?: boolean;
}

export interface EppProfileRef {
  readonly pluginRef: string;
  /** Scorers only (defaulted to 1). */
  readonly weight?: number;
}

export interface EppProfile {
  readonly name: string;
  readonly plugins: readonly EppProfileRef[];
}

/** A loaded, validated and defaulted EndpointPickerConfig. */
export interface EppConfig {
  /** Where it came from (file name, `preset NAME`, …), for messages. */
  readonly source: string;
  /** The router semantics it was loaded with (`variants.ts`). */
  readonly variant: EppVariantName;
  readonly apiVersion: string;
  readonly kind: typeof EPP_KIND;
  /** Feature gates the config turns on. */
  readonly featureGates: readonly string[];
  /** Plugins, with the loader's defaults added (picker, profile handler, parsers, saturation detector). */
  readonly plugins: readonly EppPlugin[];
  readonly schedulingProfiles: readonly EppProfile[];
  /** The saturation detector the loader resolved (flowControl.saturationDetector, the top level, or the default). */
  readonly saturationDetector: { readonly pluginRef: string };
  readonly flowControl?: Readonly<Record<string, unknown>>;
  readonly dataLayer?: Readonly<Record<string, unknown>>;
  /** Parser plugin names (the config's, or the variant's defaults). */
  readonly parsers: readonly string[];
  /** Whether the config named its parsers (else they are the loader's defaults). */
  readonly explicitParsers?: boolean;
  /** What the loader read differently than written (deprecations, ignored references), for the run output. */
  readonly notes: readonly string[];
}

type Path = readonly (string | number)[];
/** Maps a path in the raw document to a 1-based line, when known. */
export type Locate = (path: Path) => number | undefined;

const refObject = z.strictObject({ pluginRef: z.string() });
const record = z.record(z.string(), z.unknown());

// Field sets of llm-d-router apix/config/v1alpha1/endpointpickerconfig_types.go (strict decoding: unknown fields
// are errors, configloader.go L236–L243). Missing strings decode as "" and are judged by the validation stage.
const TopSchema = z.strictObject({
  apiVersion: z.string(),
  kind: z.literal(EPP_KIND),
  featureGates: z.array(z.string()).nullish(),
  plugins: z
    .array(
      z.strictObject({
        name: z.string().nullish(),
        type: z.string().nullish(),
        parameters: z.unknown().optional(),
      }),
    )
    .nullish(),
  schedulingProfiles: z
    .array(
      z.strictObject({
        name: z.string().nullish(),
        plugins: z.array(z.strictObject({ pluginRef: z.string().nullish(), weight: z.unknown().optional() })).nullish(),
      }),
    )
    .nullish(),
  // Top level deprecated (configloader.go L96–L108): moved into flowControl.saturationDetector. GIE ≤ release-1.5
  // also wrote the utilization thresholds here (queueDepthThreshold, kvCacheUtilThreshold, metricsStalenessThreshold).
  saturationDetector: z
    .strictObject({
      pluginRef: z.string().optional(),
      queueDepthThreshold: z.number().optional(),
      kvCacheUtilThreshold: z.number().optional(),
      metricsStalenessThreshold: z.string().optional(),
    })
    .nullish(),
  dataLayer: z
    .strictObject({
      injectDefaults: z.boolean().nullish(),
      sources: z
        .array(
          z.strictObject({
            pluginRef: z.string(),
            extractors: z.array(refObject).nullish(),
          }),
        )
        .nullish(),
      discovery: refObject.nullish(),
      peerDiscovery: refObject.nullish(),
      crossReplicaSyncerPluginRef: z.string().nullish(),
      crossReplicaSyncInterval: z.string().nullish(),
    })
    .nullish(),
  flowControl: record.nullish(),
  parser: refObject.nullish(),
  requestHandler: z.strictObject({ parsers: z.array(refObject).nullish() }).nullish(),
});

/** Go's strconv.ParseBool. */
function parseGoBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

/** Top-level fields of a gatelab scenario that an EndpointPickerConfig never has (a scenario passed by mistake). */
const SCENARIO_KEYS = new Set(["pools", "workload", "gateway", "requests", "duration_s", "slos"]);

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return quoteShort(v);
  return String(v);
}

/** A string as quoted in an error message: whole when short, else its start and its length (a file that is not YAML
 * at all, e.g. `/etc/passwd`, parses as one long string). */
function quoteShort(v: string): string {
  if (v.length <= 60) return `"${v}"`;
  return `"${v.slice(0, 50).replace(/\s+/g, " ")}…" (${v.length} characters)`;
}

function valueAt(root: unknown, path: Path): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function fieldOf(path: Path): string {
  return path.map(String).join(".");
}

/** ` (did you mean "x"?)` when an accepted key is a likely typo of `key`, else "". */
function nearKey(key: string, accepted: readonly string[]): string {
  const c = closest(key, accepted);
  return c !== undefined && c !== key ? ` (did you mean "${c}"?)` : "";
}

/** One zod issue as `field: what`, with accepted values where the issue knows them. */
function describeIssue(
  issue: z.core.$ZodIssue,
  root: unknown,
  acceptedKeys?: readonly string[],
): { path: Path; what: string } {
  const path = issue.path as Path;
  switch (issue.code) {
    case "unrecognized_keys": {
      const keys = issue.keys.map((k) => `"${k}"`).join(", ");
      const accepted = acceptedKeys ?? [];
      return {
        path: [...path, issue.keys[0]!],
        what: `unknown ${issue.keys.length > 1 ? "fields" : "field"} ${keys}${nearKey(issue.keys[0]!, accepted)}; accepted: ${accepted.length > 0 ? accepted.join(", ") : "none"}`,
      };
    }
    case "invalid_value":
      return {
        path,
        what: `expected ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}, got ${typeName(valueAt(root, path))}`,
      };
    case "invalid_type": {
      const got = valueAt(root, path);
      return {
        path,
        what: got === undefined ? `required (${issue.expected})` : `expected ${issue.expected}, got ${typeName(got)}`,
      };
    }
    default: {
      // A number past a bound in the scenario's words: "expected a number > 0, got 0" (zod: "Too small: expected
      // number to be >0").
      // A plugin's own message (the real factory's words, `evictionSweepSeconds must be > 0`) stays.
      const own = !/^Too (small|big):/.test(issue.message);
      const bound = own ? undefined : numberBoundText(issue as SchemaIssue, valueAt(root, path));
      if (bound !== undefined) return { path, what: bound };
      return { path, what: `${issue.message.replace(/^Invalid input: /, "")}, got ${typeName(valueAt(root, path))}` };
    }
  }
}

/** Accepted keys of a zod object schema at `path` (for top-level and nested strict objects). */
function shapeKeysAt(schema: z.ZodType, path: Path): readonly string[] | undefined {
  let s: unknown = schema;
  for (const seg of path) {
    const cur = s as {
      shape?: Record<string, unknown>;
      element?: unknown;
      unwrap?: () => unknown;
      def?: { innerType?: unknown };
    };
    if (typeof seg === "number") s = cur.element ?? cur.unwrap?.();
    else s = cur.shape?.[seg];
    // Unwrap optional / nullable / default wrappers.
    for (let k = 0; k < 4; k++) {
      const w = s as { shape?: unknown; element?: unknown; def?: { innerType?: unknown } } | undefined;
      if (w === undefined || w.shape !== undefined || w.element !== undefined) break;
      s = w.def?.innerType;
    }
    if (s === undefined) return undefined;
  }
  const shape = (s as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : undefined;
}

class Normalizer {
  private readonly source: string;
  private readonly locate: Locate;
  private readonly fileName: string | undefined;
  private readonly variant: EppVariant;

  constructor(source: string, locate: Locate, fileName: string | undefined, variant: EppVariant) {
    this.source = source;
    this.locate = locate;
    this.fileName = fileName;
    this.variant = variant;
  }

  fail(path: Path, what: string): never {
    throw inputError(
      this.fileName ?? this.source,
      this.locate(path),
      path.length > 0 ? fieldOf(path) : undefined,
      what,
    );
  }

  run(raw: unknown): EppConfig {
    const variant = this.variant;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      this.fail(
        [],
        `expected an ${EPP_KIND} mapping (apiVersion, kind, plugins, schedulingProfiles), got ${typeName(raw)}`,
      );
    }
    const keys = Object.keys(raw);
    if (!("apiVersion" in raw) && !("kind" in raw) && keys.some((k) => SCENARIO_KEYS.has(k))) {
      this.fail(
        [],
        `this is a gatelab scenario (it has ${keys.filter((k) => SCENARIO_KEYS.has(k)).join(", ")}), not an ${EPP_KIND}; ` +
          `give the scenario as the command's argument and an ${EPP_KIND} (apiVersion, kind, plugins, schedulingProfiles) here`,
      );
    }
    const top = TopSchema.safeParse(raw);
    if (!top.success) {
      const issue = top.error.issues[0]!;
      const d = describeIssue(issue, raw, shapeKeysAt(TopSchema, issue.path as Path));
      this.fail(d.path, d.what);
    }
    const cfg = top.data;
    const notes: string[] = [];
    if (!variant.apiVersions.includes(cfg.apiVersion)) {
      this.fail(
        ["apiVersion"],
        `expected ${variant.apiVersions.map((v) => `"${v}"`).join(" | ")} (router variant ${variant.name}), got "${cfg.apiVersion}"`,
      );
    }

    // Feature gates (configloader.go L133–L136, validation.go L138–L159): registered names, Go booleans.
    const gates = new Map<string, boolean>(variant.featureGates);
    (cfg.featureGates ?? []).forEach((g, i) => {
      const [gate, value] = g.split("=", 2) as [string, string | undefined];
      if (!variant.featureGates.has(gate)) {
        this.fail(
          ["featureGates", i],
          `feature gate "${gate}" is unknown or unregistered; registered (${variant.name}): ${[...variant.featureGates.keys()].join(", ")}`,
        );
      }
      let on = true;
      if (value !== undefined) {
        const b = parseGoBool(value.trim().toLowerCase());
        if (b === undefined)
          this.fail(
            ["featureGates", i],
            `"${value}" is not a valid value for the feature gate ${gate} (true or false)`,
          );
        on = b;
      }
      gates.set(gate, on);
    });

    // Plugins (validation.go L32–L49; static defaults defaults.go L109–L119: name ← type).
    const plugins: EppPlugin[] = [];
    const byName = new Map<string, { plugin: EppPlugin; info: PluginTypeInfo; index: number }>();
    (cfg.plugins ?? []).forEach((p, i) => {
      const declared = p.type ?? "";
      const name = p.name || declared;
      if (declared === "") this.fail(["plugins", i, "type"], `plugin "${name}" is missing a type`);
      if (byName.has(name))
        this.fail(["plugins", i, "name"], `duplicate plugin name "${name}" (names default to the type)`);
      const type = canonicalType(declared);
      const info = PLUGIN_TYPES.get(type);
      if (info === undefined) {
        const near = didYouMean(declared);
        this.fail(
          ["plugins", i, "type"],
          `unknown plugin type "${declared}"${near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : ""} (\`gatelab policies --plugins\` lists the ${PLUGIN_TYPES.size} known types)`,
        );
      }
      if (type !== declared) notes.push(`plugin "${name}": type "${declared}" is deprecated, read as "${type}"`);
      const params = p.parameters ?? {};
      if (params === null || typeof params !== "object" || Array.isArray(params)) {
        this.fail(
          ["plugins", i, "parameters"],
          `plugin "${name}" (type ${type}): parameters must be a mapping, got ${typeName(params)}`,
        );
      }
      const parsed = info.params.safeParse(params);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const base: Path = ["plugins", i, "parameters"];
        if (issue.code === "unrecognized_keys" && issue.path.length === 0) {
          const keys = issue.keys.map((k) => `"${k}"`).join(", ");
          const accepted = info.paramKeys ?? [];
          this.fail(
            [...base, issue.keys[0]!],
            `plugin "${name}" (type ${type}): unknown parameter ${keys}${nearKey(issue.keys[0]!, accepted)}; accepted parameters: ${accepted.length > 0 ? accepted.join(", ") : "none"}`,
          );
        }
        const d = describeIssue(issue, params, shapeKeysAt(info.params, issue.path as Path));
        this.fail([...base, ...d.path], `plugin "${name}" (type ${type}): ${d.what}`);
      }
      const plugin: EppPlugin = {
        name,
        type,
        declaredType: declared,
        parameters: params as Record<string, unknown>,
        parsed: parsed.data,
      };
      plugins.push(plugin);
      byName.set(name, { plugin, info, index: i });
    });

    const kindOf = (name: string): PluginKind | undefined => byName.get(name)?.info.kind;
    const names = (): string => [...byName.keys()].map((n) => `"${n}"`).join(", ") || "none";
    const addDefault = (type: string): void => {
      const info = PLUGIN_TYPES.get(type)!;
      const plugin: EppPlugin = {
        name: type,
        type,
        declaredType: type,
        parameters: {},
        parsed: info.params.parse({}),
        defaulted: true,
      };
      plugins.push(plugin);
      byName.set(type, { plugin, info, index: plugins.length - 1 });
    };

    // References inside parameters (the plugin DAG, configloader.go L269–L303): every reference resolves, of an
    // accepted kind, and there is no cycle.
    const deps = new Map<string, string[]>();
    for (const { plugin, info, index } of byName.values()) {
      const out: string[] = [];
      for (const ref of info.refs?.(plugin.parsed) ?? []) {
        const k = kindOf(ref.name);
        const path: Path = ["plugins", index, "parameters", ...ref.path];
        if (k === undefined)
          this.fail(
            path,
            `plugin "${plugin.name}" has a dependency on "${ref.name}", which is not in plugins; plugins: ${names()}`,
          );
        if (!ref.kinds.includes(k)) {
          this.fail(
            path,
            `plugin "${plugin.name}" refers to "${ref.name}" (a ${k}); expected a ${ref.kinds.join(" or ")}`,
          );
        }
        out.push(ref.name);
      }
      deps.set(plugin.name, out);
    }
    const state = new Map<string, 1 | 2>();
    const visit = (n: string, chain: string[]): void => {
      const st = state.get(n);
      if (st === 2) return;
      if (st === 1) {
        const from = chain.indexOf(n);
        const index = byName.get(n)!.index;
        this.fail(["plugins", index], `plugin references form a cycle: ${[...chain.slice(from), n].join(" → ")}`);
      }
      state.set(n, 1);
      for (const d of deps.get(n) ?? []) visit(d, [...chain, n]);
      state.set(n, 2);
    };
    for (const n of deps.keys()) visit(n, []);

    // Scheduling layer defaults (defaults.go L147–L219): no profiles → one `default` with every filter, scorer and
    // picker; one profile and no handler → single-profile-handler; the first picker (else a new max-score-picker)
    // appended to every profile without one; scorer weight ← 1.
    const rawProfiles = cfg.schedulingProfiles ?? [];
    const profiles: { name: string; plugins: EppProfileRef[] }[] = [];
    if (rawProfiles.length === 0) {
      const refs: EppProfileRef[] = [];
      for (const p of plugins) {
        const k = byName.get(p.name)!.info.kind;
        if (k === "scorer") refs.push({ pluginRef: p.name, weight: 1 });
        else if (k === "filter" || k === "picker") refs.push({ pluginRef: p.name });
      }
      profiles.push({ name: "default", plugins: refs });
    } else {
      // Deep validation of profiles (validation.go L108–L136).
      const seen = new Set<string>();
      rawProfiles.forEach((prof, pi) => {
        if (!prof.name) this.fail(["schedulingProfiles", pi, "name"], `schedulingProfiles[${pi}] is missing a name`);
        if (seen.has(prof.name))
          this.fail(["schedulingProfiles", pi, "name"], `schedulingProfiles[${pi}] has duplicate name "${prof.name}"`);
        seen.add(prof.name);
        const refs: EppProfileRef[] = [];
        (prof.plugins ?? []).forEach((r, ri) => {
          const path: Path = ["schedulingProfiles", pi, "plugins", ri];
          if (!r.pluginRef)
            this.fail(
              [...path, "pluginRef"],
              `schedulingProfiles[${prof.name}].plugins[${ri}] is missing a 'pluginRef'`,
            );
          const k = kindOf(r.pluginRef);
          if (k === undefined) {
            this.fail(
              [...path, "pluginRef"],
              `schedulingProfiles[${prof.name}] references undefined plugin "${r.pluginRef}"; plugins: ${names()}`,
            );
          }
          const role = profileRole(k);
          if (role === undefined) {
            notes.push(
              `profile "${prof.name}": plugin "${r.pluginRef}" is a ${k}, not a filter, scorer or picker; the profile ignores it (as the real scheduler does)`,
            );
            return;
          }
          if (role !== "scorer") {
            // Only scorers are wrapped with their weight (configloader.go L367–L374); elsewhere it is ignored.
            if (r.weight !== undefined)
              notes.push(`profile "${prof.name}": weight of "${r.pluginRef}" ignored (a ${k}; only scorers take one)`);
            refs.push({ pluginRef: r.pluginRef });
            return;
          }
          const w = r.weight ?? 1;
          if (typeof w !== "number" || !Number.isFinite(w) || w < 0) {
            this.fail(
              [...path, "weight"],
              `profile "${prof.name}": scorer "${r.pluginRef}": weight must be a number ≥ 0 (int or float), got ${typeName(r.weight)}`,
            );
          }
          refs.push({ pluginRef: r.pluginRef, weight: w });
        });
        profiles.push({ name: prof.name, plugins: refs });
      });
    }

    const handlers = plugins.filter((p) => byName.get(p.name)!.info.kind === "profile-handler");
    if (handlers.length === 0 && profiles.length === 1) {
      if (byName.has("single-profile-handler"))
        this.fail(["plugins"], `plugin name "single-profile-handler" is taken by a non-handler`);
      addDefault("single-profile-handler");
    }
    let defaultPicker = plugins.find((p) => byName.get(p.name)!.info.kind === "picker")?.name;
    profiles.forEach((prof, pi) => {
      const pickers = prof.plugins.filter((r) => kindOf(r.pluginRef) === "picker");
      if (pickers.length > 1) {
        this.fail(
          rawProfiles.length > 0 ? ["schedulingProfiles", pi] : ["plugins"],
          `profile "${prof.name}" has ${pickers.length} pickers (${pickers.map((p) => p.pluginRef).join(", ")}); a profile takes one`,
        );
      }
      if (pickers.length === 0) {
        if (defaultPicker === undefined) {
          if (byName.has("max-score-picker"))
            this.fail(["plugins"], `plugin name "max-score-picker" is taken by a non-picker`);
          addDefault("max-score-picker");
          defaultPicker = "max-score-picker";
        }
        prof.plugins.push({ pluginRef: defaultPicker });
      }
    });

    // Flow-control defaults (defaults.go L222–L239; flowcontrol/registry/config.go L33–L38): fcfs ordering,
    // global-strict fairness, static usage limit, each added under its type name when missing.
    for (const t of ["fcfs-ordering-policy", "global-strict-fairness-policy", "static-usage-limit-policy"])
      if (!byName.has(t)) addDefault(t);

    // Parsers (defaults.go L247–L271, validation.go L69–L86, configloader.go L427–L445). The deprecated top-level
    // `parser` is used when requestHandler.parsers is empty (configloader.go L110–L122).
    let parserRefs: { ref: string; path: Path }[] = (cfg.requestHandler?.parsers ?? []).map((p, i) => ({
      ref: p.pluginRef,
      path: ["requestHandler", "parsers", i, "pluginRef"],
    }));
    if (parserRefs.length === 0 && cfg.parser)
      parserRefs = [{ ref: cfg.parser.pluginRef, path: ["parser", "pluginRef"] }];
    const explicitParsers = parserRefs.length > 0;
    if (explicitParsers) {
      for (const { ref, path } of parserRefs) {
        const k = kindOf(ref);
        if (k === undefined) this.fail(path, `parser references undefined plugin "${ref}"; plugins: ${names()}`);
        if (k !== "parser") this.fail(path, `the plugin "${ref}" is not a parser plugin (it is a ${k})`);
      }
    } else if (variant.defaultParsers !== undefined) {
      for (const t of variant.defaultParsers) if (!byName.has(t)) addDefault(t);
      parserRefs = variant.defaultParsers.map((t) => ({ ref: t, path: [] }));
    }

    // Saturation detector (defaults.go L275–L302, validation.go L88–L106, configloader.go L204–L211):
    // flowControl.saturationDetector wins over the deprecated top level; "utilization-detector" is added when named
    // (or when none is) and missing.
    const fcRaw = (cfg.flowControl ?? undefined) as Record<string, unknown> | undefined;
    const fcSd = fcRaw?.saturationDetector as { pluginRef?: unknown } | undefined;
    let sdRef: string | undefined;
    let sdPath: Path = ["saturationDetector", "pluginRef"];
    if (fcSd !== undefined && fcSd !== null) {
      // An empty reference becomes utilization-detector (defaults.go L290–L292).
      sdRef = typeof fcSd.pluginRef === "string" ? fcSd.pluginRef : "";
      const extra = Object.keys(fcSd).filter((k) => k !== "pluginRef");
      if (extra.length > 0) notes.push(`flowControl.saturationDetector: ${extra.join(", ")} ignored`);
      sdPath = ["flowControl", "saturationDetector", "pluginRef"];
    } else if (cfg.saturationDetector) {
      const sd = cfg.saturationDetector;
      if (sd.pluginRef !== undefined) sdRef = sd.pluginRef;
      else notes.push("saturationDetector thresholds (GIE ≤ release-1.5 form) read as utilization-detector's defaults");
      notes.push("top-level saturationDetector is deprecated; use flowControl.saturationDetector");
    }
    if (sdRef === "" || sdRef === undefined) sdRef = "utilization-detector";
    if (sdRef === "utilization-detector" && !byName.has(sdRef)) addDefault("utilization-detector");
    {
      const k = kindOf(sdRef);
      if (k === undefined)
        this.fail(sdPath, `saturation detector references undefined plugin "${sdRef}"; plugins: ${names()}`);
      if (k !== "detector" && byName.get(sdRef)!.info.status !== "test-only")
        this.fail(sdPath, `plugin "${sdRef}" is a ${k}, not a saturation detector`);
    }

    // Profile handler (configloader.go L383–L400).
    const allHandlers = plugins.filter((p) => byName.get(p.name)!.info.kind === "profile-handler");
    if (allHandlers.length > 1) {
      this.fail(
        ["plugins"],
        `multiple profile handlers (${allHandlers.map((h) => h.name).join(", ")}); only one is allowed`,
      );
    }
    if (allHandlers.length === 0) {
      this.fail(
        ["schedulingProfiles"],
        `${profiles.length} scheduling profiles and no profile handler configured (disagg-profile-handler runs several)`,
      );
    }
    const h = allHandlers[0]!;
    const hi = byName.get(h.name)!.index;
    const profileNames = new Set(profiles.map((p) => p.name));
    if (h.type === "single-profile-handler" && profiles.length > 1) {
      this.fail(
        ["plugins", hi],
        `single-profile-handler "${h.name}" cannot run ${profiles.length} scheduling profiles`,
      );
    }
    if (h.type === "data-parallel-profile-handler" && profiles.length !== 1) {
      this.fail(["plugins", hi], `${h.type} "${h.name}" runs exactly one profile; the config has ${profiles.length}`);
    }
    if (h.type === "disagg-profile-handler") {
      const p = h.parsed as {
        profiles?: { decode?: string; prefill?: string; encode?: string };
        deciders?: { prefill?: string; encode?: string };
      };
      const need: [string, string][] = [["decode", p.profiles?.decode ?? "decode"]];
      if (p.deciders?.prefill !== undefined) need.push(["prefill", p.profiles?.prefill ?? "prefill"]);
      if (p.deciders?.encode !== undefined) need.push(["encode", p.profiles?.encode ?? "encode"]);
      for (const [role, prof] of need) {
        if (!profileNames.has(prof)) {
          this.fail(
            ["plugins", hi, "parameters"],
            `plugin "${h.name}" (disagg-profile-handler): the ${role} profile "${prof}" is not in schedulingProfiles; profiles: ${[...profileNames].join(", ")}`,
          );
        }
      }
    }

    // Data layer (configloader.go L447–L486): sources are data sources; extractors exist.
    (cfg.dataLayer?.sources ?? []).forEach((src, si) => {
      const k = kindOf(src.pluginRef);
      if (k !== "data-source")
        this.fail(
          ["dataLayer", "sources", si, "pluginRef"],
          k === undefined
            ? `the plugin "${src.pluginRef}" is not a data source (no such plugin; plugins: ${names()})`
            : `the plugin "${src.pluginRef}" is not a data source (it is a ${k})`,
        );
      (src.extractors ?? []).forEach((e, ei) => {
        if (!byName.has(e.pluginRef))
          this.fail(
            ["dataLayer", "sources", si, "extractors", ei, "pluginRef"],
            `the plugin "${e.pluginRef}" is not registered; plugins: ${names()}`,
          );
      });
    });

    // Flow control, when its gate is on (configloader.go L188–L197, flowcontrol.go L200–L210): policy references
    // resolve to plugins of the right kind. With the gate off its settings are ignored (a note says so).
    const flowOn = gates.get("flowControl") === true;
    if (fcRaw !== undefined && flowOn) {
      const check = (ref: unknown, path: Path, kind: PluginKind): void => {
        if (typeof ref !== "string" || ref === "") return;
        const k = kindOf(ref);
        if (k === undefined) this.fail(path, `flow control: plugin "${ref}" not found; plugins: ${names()}`);
        if (k !== kind)
          this.fail(
            path,
            `flow control: plugin "${ref}" is a ${k}, not ${kind === "ordering" ? "an" : "a"} ${kind} policy`,
          );
      };
      const bands = Array.isArray(fcRaw.priorityBands) ? (fcRaw.priorityBands as Record<string, unknown>[]) : [];
      bands.forEach((b, bi) => {
        check(b?.fairnessPolicyRef, ["flowControl", "priorityBands", bi, "fairnessPolicyRef"], "fairness");
        check(b?.orderingPolicyRef, ["flowControl", "priorityBands", bi, "orderingPolicyRef"], "ordering");
      });
      for (const key of ["defaultPriorityBand", "defaultNegativePriorityBand"]) {
        const b = fcRaw[key] as Record<string, unknown> | undefined;
        check(b?.fairnessPolicyRef, ["flowControl", key, "fairnessPolicyRef"], "fairness");
        check(b?.orderingPolicyRef, ["flowControl", key, "orderingPolicyRef"], "ordering");
      }
      check(fcRaw.usageLimitPolicyPluginRef, ["flowControl", "usageLimitPolicyPluginRef"], "usage-limit");
    } else if (fcRaw !== undefined && Object.keys(fcRaw).some((k) => k !== "saturationDetector")) {
      notes.push("flowControl settings are ignored: the flowControl feature gate is off");
    }

    const enabledGates = [...gates].filter(([, on]) => on).map(([g]) => g);
    return {
      source: this.source,
      variant: variant.name,
      apiVersion: cfg.apiVersion,
      kind: EPP_KIND,
      featureGates: enabledGates.filter((g) => (cfg.featureGates ?? []).some((x) => x.split("=")[0] === g)),
      plugins,
      schedulingProfiles: profiles,
      saturationDetector: { pluginRef: sdRef },
      ...(fcRaw !== undefined ? { flowControl: fcRaw } : {}),
      ...(cfg.dataLayer ? { dataLayer: cfg.dataLayer as Record<string, unknown> } : {}),
      parsers: parserRefs.map((p) => p.ref),
      ...(explicitParsers ? { explicitParsers: true } : {}),
      notes,
    };
  }
}

/**
 * Validates and defaults an EndpointPickerConfig given as a plain object (an inline `gateway.epp_config`, a preset).
 * `source` names it in messages; `locate` maps a path to a line when the object came from a file.
 */
export function normalizeEppConfig(
  raw: unknown,
  source: string,
  locate: Locate = () => undefined,
  variant?: string,
): EppConfig {
  return new Normalizer(source, locate, undefined, eppVariant(variant)).run(raw);
}

function nodeLine(node: unknown, lc: LineCounter): number | undefined {
  const r = (node as Node | null | undefined)?.range;
  return r ? lc.linePos(r[0]).line : undefined;
}

function locator(doc: Document, lc: LineCounter): Locate {
  return (path) => {
    let node: unknown = doc.contents;
    let line = nodeLine(node, lc);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value === seg : p.key === seg));
        if (pair === undefined) break;
        line = nodeLine(pair.key, lc) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (item === undefined) break;
        line = nodeLine(item, lc) ?? line;
        node = item;
      } else break;
    }
    return line;
  };
}

/** Parses an EndpointPickerConfig YAML text (as deployed) into a validated, defaulted config. */
export function loadEppConfig(text: string, fileName: string, variant?: string): EppConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? (e.pos ? lc.linePos(e.pos[0]).line : undefined);
    throw inputError(fileName, line, undefined, `YAML syntax error: ${e.message.split("\n")[0]}`);
  }
  const raw: unknown = doc.toJS();
  return new Normalizer(fileName, locator(doc, lc), fileName, eppVariant(variant)).run(raw);
}

/** Reads and loads an EndpointPickerConfig file. */
export function loadEppConfigFile(path: string, variant?: string): EppConfig {
  const text = readTextInput(path, "EndpointPickerConfig");
  return loadEppConfig(text, path, variant);
}

/**
 * The config as a plain object in the EndpointPickerConfig format: the plugins as written (the loader's defaults —
 * picker, handler, parsers, flow-control policies, saturation detector — are left for the loader to add again),
 * profiles with their weights made explicit.
 */
export function eppConfigToObject(cfg: EppConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { apiVersion: cfg.apiVersion, kind: cfg.kind };
  if (cfg.featureGates.length > 0) out.featureGates = [...cfg.featureGates];
  const defaulted = new Set(cfg.plugins.filter((p) => p.defaulted).map((p) => p.name));
  out.plugins = cfg.plugins
    .filter((p) => !p.defaulted)
    .map((p) => ({
      name: p.name,
      type: p.declaredType,
      ...(Object.keys(p.parameters).length > 0 ? { parameters: structuredClone(p.parameters) } : {}),
    }));
  out.schedulingProfiles = cfg.schedulingProfiles.map((s) => ({
    name: s.name,
    plugins: s.plugins
      .filter((r) => !defaulted.has(r.pluginRef))
      .map((r) => (r.weight !== undefined ? { pluginRef: r.pluginRef, weight: r.weight } : { pluginRef: r.pluginRef })),
  }));
  if (cfg.flowControl || !defaulted.has(cfg.saturationDetector.pluginRef)) {
    const fc: Record<string, unknown> = cfg.flowControl ? structuredClone(cfg.flowControl) : {};
    fc.saturationDetector = { ...cfg.saturationDetector };
    out.flowControl = fc;
  }
  if (cfg.dataLayer) out.dataLayer = structuredClone(cfg.dataLayer);
  if (cfg.explicitParsers) out.requestHandler = { parsers: cfg.parsers.map((p) => ({ pluginRef: p })) };
  return out;
}

/**
 * Applies `params` overrides (the lab's sweeps) to a loaded config and re-validates it. Keys are
 * `<plugin name>.weight` (every profile reference of that scorer) or `<plugin name>.<parameter path>` (dots into
 * nested parameters; a leading `parameters.` is optional), e.g. `{"prefix-cache-scorer.weight": 5,
 * "prefix-cache-affinity-filter.affinityThreshold": 0.6}`.
 */
export function applyEppOverrides(
  cfg: EppConfig,
  params: Readonly<Record<string, unknown>>,
  where = "gateway.params",
): EppConfig {
  const keys = Object.keys(params);
  if (keys.length === 0) return cfg;
  const raw = eppConfigToObject(cfg) as {
    plugins: { name: string; type: string; parameters?: Record<string, unknown> }[];
    schedulingProfiles: { name: string; plugins: { pluginRef: string; weight?: number }[] }[];
  };
  const pluginNames = raw.plugins.map((p) => p.name);
  for (const key of keys) {
    const value = params[key];
    // Longest plugin name that prefixes the key (names may contain dots).
    let name: string | undefined;
    for (const n of pluginNames)
      if (key.startsWith(`${n}.`) && (name === undefined || n.length > name.length)) name = n;
    if (name === undefined) {
      throw new InputError(
        `${where}: "${key}": expected "<plugin name>.weight" or "<plugin name>.<parameter>"; plugins of ${cfg.source}: ${pluginNames.join(", ")}`,
      );
    }
    let rest = key.slice(name.length + 1);
    if (rest === "weight") {
      let hit = 0;
      for (const prof of raw.schedulingProfiles) {
        for (const r of prof.plugins) {
          if (r.pluginRef === name) {
            r.weight = value as number;
            hit++;
          }
        }
      }
      if (hit === 0) throw new InputError(`${where}: "${key}": plugin "${name}" is not used by any scheduling profile`);
      continue;
    }
    if (rest.startsWith("parameters.")) rest = rest.slice("parameters.".length);
    const plugin = raw.plugins.find((p) => p.name === name)!;
    plugin.parameters ??= {};
    let obj: Record<string, unknown> = plugin.parameters;
    const segs = rest.split(".");
    for (let i = 0; i < segs.length - 1; i++) {
      const s = segs[i]!;
      const next = obj[s];
      if (next === null || typeof next !== "object" || Array.isArray(next)) obj[s] = {};
      obj = obj[s] as Record<string, unknown>;
    }
    obj[segs[segs.length - 1]!] = value;
  }
  return normalizeEppConfig(raw, `${cfg.source} with ${where}`, undefined, cfg.variant);
}
