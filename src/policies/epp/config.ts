import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { InputError, inputError, readTextInput } from "../../errors.ts";
import {
  acceptedTypes,
  canonicalType,
  NOT_SIMULATED,
  PLUGIN_TYPES,
  type PluginKind,
  type PluginTypeInfo,
  profileRole,
} from "./catalog.ts";

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
  readonly apiVersion: string;
  readonly kind: typeof EPP_KIND;
  readonly featureGates: readonly string[];
  readonly plugins: readonly EppPlugin[];
  readonly schedulingProfiles: readonly EppProfile[];
  readonly saturationDetector?: { readonly pluginRef: string };
  readonly flowControl?: Readonly<Record<string, unknown>>;
  readonly dataLayer?: Readonly<Record<string, unknown>>;
  readonly parser?: { readonly pluginRef: string };
  readonly requestHandler?: Readonly<Record<string, unknown>>;
}

type Path = readonly (string | number)[];
/** Maps a path in the raw document to a 1-based line, when known. */
export type Locate = (path: Path) => number | undefined;

const refObject = z.strictObject({ pluginRef: z.string().min(1) });
const record = z.record(z.string(), z.unknown());

const TopSchema = z.strictObject({
  apiVersion: z.enum(EPP_API_VERSIONS),
  kind: z.literal(EPP_KIND),
  featureGates: z.array(z.string()).optional(),
  plugins: z.array(
    z.strictObject({
      name: z.string().min(1).optional(),
      type: z.string().min(1),
      parameters: record.nullish(),
    }),
  ),
  schedulingProfiles: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        plugins: z.array(z.strictObject({ pluginRef: z.string().min(1), weight: z.unknown().optional() })).nullish(),
      }),
    )
    .nullish(),
  saturationDetector: refObject.optional(),
  dataLayer: record.optional(),
  flowControl: record.optional(),
  parser: refObject.optional(),
  requestHandler: record.optional(),
});

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `"${v}"`;
  return String(v);
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
        what: `unknown ${issue.keys.length > 1 ? "fields" : "field"} ${keys}; accepted: ${accepted.length > 0 ? accepted.join(", ") : "none"}`,
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
    default:
      return { path, what: `${issue.message.replace(/^Invalid input: /, "")}, got ${typeName(valueAt(root, path))}` };
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

  constructor(source: string, locate: Locate, fileName: string | undefined) {
    this.source = source;
    this.locate = locate;
    this.fileName = fileName;
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
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      this.fail(
        [],
        `expected an ${EPP_KIND} mapping (apiVersion, kind, plugins, schedulingProfiles), got ${typeName(raw)}`,
      );
    }
    const top = TopSchema.safeParse(raw);
    if (!top.success) {
      const issue = top.error.issues[0]!;
      const d = describeIssue(issue, raw, shapeKeysAt(TopSchema, issue.path as Path));
      this.fail(d.path, d.what);
    }
    const cfg = top.data;

    // Plugins: canonical types, names, parameters.
    const plugins: EppPlugin[] = [];
    const byName = new Map<string, { plugin: EppPlugin; info: PluginTypeInfo; index: number }>();
    cfg.plugins.forEach((p, i) => {
      const declared = p.type;
      const type = canonicalType(declared);
      const name = p.name ?? declared;
      const why = NOT_SIMULATED.get(type);
      if (why !== undefined) {
        this.fail(
          ["plugins", i, "type"],
          `plugin "${name}": type "${declared}" is a real Endpoint Picker plugin that gatelab does not simulate (${why}); accepted types: ${acceptedTypes().join(", ")}`,
        );
      }
      const info = PLUGIN_TYPES.get(type);
      if (info === undefined) {
        this.fail(
          ["plugins", i, "type"],
          `unknown plugin type "${declared}"; accepted types: ${acceptedTypes().join(", ")}`,
        );
      }
      if (byName.has(name))
        this.fail(["plugins", i, "name"], `duplicate plugin name "${name}" (names default to the type)`);
      const params = p.parameters ?? {};
      const parsed = info.params.safeParse(params);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const base: Path = ["plugins", i, "parameters"];
        if (issue.code === "unrecognized_keys" && issue.path.length === 0) {
          const keys = issue.keys.map((k) => `"${k}"`).join(", ");
          const accepted = info.paramKeys ?? [];
          this.fail(
            [...base, issue.keys[0]!],
            `plugin "${name}" (type ${type}): unknown parameter ${keys}; accepted parameters: ${accepted.length > 0 ? accepted.join(", ") : "none"}`,
          );
        }
        const d = describeIssue(issue, params, shapeKeysAt(info.params, issue.path as Path));
        this.fail([...base, ...d.path], `plugin "${name}" (type ${type}): ${d.what}`);
      }
      const plugin: EppPlugin = { name, type, declaredType: declared, parameters: params, parsed: parsed.data };
      plugins.push(plugin);
      byName.set(name, { plugin, info, index: i });
    });

    const kindOf = (name: string): PluginKind | undefined => byName.get(name)?.info.kind;
    const names = (): string => [...byName.keys()].map((n) => `"${n}"`).join(", ") || "none";

    // References inside parameters (decision trees, deciders, detectors).
    for (const { plugin, info, index } of byName.values()) {
      for (const ref of info.refs?.(plugin.parsed) ?? []) {
        const k = kindOf(ref.name);
        const path: Path = ["plugins", index, "parameters", ...ref.path];
        if (k === undefined)
          this.fail(
            path,
            `plugin "${plugin.name}" refers to "${ref.name}", which is not in plugins; plugins: ${names()}`,
          );
        if (!ref.kinds.includes(k)) {
          this.fail(
            path,
            `plugin "${plugin.name}" refers to "${ref.name}" (a ${k}); expected a ${ref.kinds.join(" or ")}`,
          );
        }
      }
    }

    // Scheduling profiles (defaulted when absent).
    const profiles: { name: string; plugins: EppProfileRef[] }[] = [];
    const rawProfiles = cfg.schedulingProfiles ?? [];
    if (rawProfiles.length === 0) {
      const refs: EppProfileRef[] = [];
      for (const p of plugins) {
        const k = byName.get(p.name)!.info.kind;
        if (k === "scorer") refs.push({ pluginRef: p.name, weight: 1 });
        else if (k === "filter" || k === "picker") refs.push({ pluginRef: p.name });
      }
      profiles.push({ name: "default", plugins: refs });
    } else {
      const seen = new Set<string>();
      rawProfiles.forEach((prof, pi) => {
        if (seen.has(prof.name)) this.fail(["schedulingProfiles", pi, "name"], `duplicate profile name "${prof.name}"`);
        seen.add(prof.name);
        const refs: EppProfileRef[] = [];
        (prof.plugins ?? []).forEach((r, ri) => {
          const path: Path = ["schedulingProfiles", pi, "plugins", ri];
          const k = kindOf(r.pluginRef);
          if (k === undefined) {
            this.fail(
              [...path, "pluginRef"],
              `profile "${prof.name}": no plugin named "${r.pluginRef}"; plugins: ${names()}`,
            );
          }
          const role = profileRole(k);
          if (role === undefined) {
            this.fail(
              [...path, "pluginRef"],
              `profile "${prof.name}": plugin "${r.pluginRef}" is a ${k}; profiles take filters, scorers and one picker`,
            );
          }
          if (role !== "scorer") {
            if (r.weight !== undefined) {
              this.fail(
                [...path, "weight"],
                `profile "${prof.name}": plugin "${r.pluginRef}" is a ${k}; only scorers take a weight`,
              );
            }
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

    // One picker per profile; default max-score-picker.
    let defaultPicker: string | undefined;
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
          defaultPicker = "max-score-picker";
          const existing = byName.get(defaultPicker);
          if (existing === undefined) {
            const info = PLUGIN_TYPES.get("max-score-picker")!;
            const plugin: EppPlugin = {
              name: defaultPicker,
              type: "max-score-picker",
              declaredType: "max-score-picker",
              parameters: {},
              parsed: info.params.parse({}),
            };
            plugins.push(plugin);
            byName.set(defaultPicker, { plugin, info, index: plugins.length - 1 });
          } else if (existing.info.kind !== "picker") {
            this.fail(
              ["plugins", existing.index, "name"],
              `plugin "${defaultPicker}" must be a picker (it is the default picker's name)`,
            );
          }
        }
        prof.plugins.push({ pluginRef: defaultPicker });
      }
    });

    // Profile handler.
    const handlers = plugins.filter((p) => byName.get(p.name)!.info.kind === "profile-handler");
    if (handlers.length > 1) {
      this.fail(
        ["plugins"],
        `more than one profile handler (${handlers.map((h) => h.name).join(", ")}); a config takes one`,
      );
    }
    if (handlers.length === 0) {
      if (profiles.length !== 1) {
        this.fail(
          ["schedulingProfiles"],
          `${profiles.length} scheduling profiles need a profile handler (disagg-profile-handler); single-profile-handler is added only for one profile`,
        );
      }
      const info = PLUGIN_TYPES.get("single-profile-handler")!;
      const plugin: EppPlugin = {
        name: "single-profile-handler",
        type: "single-profile-handler",
        declaredType: "single-profile-handler",
        parameters: {},
        parsed: {},
      };
      if (byName.has(plugin.name))
        this.fail(["plugins"], `plugin name "single-profile-handler" is taken by a non-handler`);
      plugins.push(plugin);
      byName.set(plugin.name, { plugin, info, index: plugins.length - 1 });
    } else {
      const h = handlers[0]!;
      const hi = byName.get(h.name)!.index;
      const profileNames = new Set(profiles.map((p) => p.name));
      if (h.type === "single-profile-handler" || h.type === "data-parallel-profile-handler") {
        if (profiles.length !== 1) {
          this.fail(
            ["plugins", hi],
            `${h.type} "${h.name}" runs exactly one profile; the config has ${profiles.length}`,
          );
        }
      } else if (h.type === "disagg-profile-handler") {
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
    }

    if (cfg.saturationDetector !== undefined) {
      const k = kindOf(cfg.saturationDetector.pluginRef);
      if (k !== "detector") {
        this.fail(
          ["saturationDetector", "pluginRef"],
          k === undefined
            ? `no plugin named "${cfg.saturationDetector.pluginRef}"; plugins: ${names()}`
            : `"${cfg.saturationDetector.pluginRef}" is a ${k}; expected utilization-detector or concurrency-detector`,
        );
      }
    }

    return {
      source: this.source,
      apiVersion: cfg.apiVersion,
      kind: EPP_KIND,
      featureGates: cfg.featureGates ?? [],
      plugins,
      schedulingProfiles: profiles,
      ...(cfg.saturationDetector !== undefined ? { saturationDetector: cfg.saturationDetector } : {}),
      ...(cfg.flowControl !== undefined ? { flowControl: cfg.flowControl } : {}),
      ...(cfg.dataLayer !== undefined ? { dataLayer: cfg.dataLayer } : {}),
      ...(cfg.parser !== undefined ? { parser: cfg.parser } : {}),
      ...(cfg.requestHandler !== undefined ? { requestHandler: cfg.requestHandler } : {}),
    };
  }
}

/**
 * Validates and defaults an EndpointPickerConfig given as a plain object (an inline `gateway.epp_config`, a preset).
 * `source` names it in messages; `locate` maps a path to a line when the object came from a file.
 */
export function normalizeEppConfig(raw: unknown, source: string, locate: Locate = () => undefined): EppConfig {
  return new Normalizer(source, locate, undefined).run(raw);
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
export function loadEppConfig(text: string, fileName: string): EppConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? (e.pos ? lc.linePos(e.pos[0]).line : undefined);
    throw inputError(fileName, line, undefined, `YAML syntax error: ${e.message.split("\n")[0]}`);
  }
  const raw: unknown = doc.toJS();
  return new Normalizer(fileName, locator(doc, lc), fileName).run(raw);
}

/** Reads and loads an EndpointPickerConfig file. */
export function loadEppConfigFile(path: string): EppConfig {
  const text = readTextInput(path, "EndpointPickerConfig");
  return loadEppConfig(text, path);
}

/** The config as a plain object in the EndpointPickerConfig format (defaults made explicit). */
export function eppConfigToObject(cfg: EppConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { apiVersion: cfg.apiVersion, kind: cfg.kind };
  if (cfg.featureGates.length > 0) out.featureGates = [...cfg.featureGates];
  out.plugins = cfg.plugins.map((p) => ({
    name: p.name,
    type: p.declaredType,
    ...(Object.keys(p.parameters).length > 0 ? { parameters: structuredClone(p.parameters) } : {}),
  }));
  out.schedulingProfiles = cfg.schedulingProfiles.map((s) => ({
    name: s.name,
    plugins: s.plugins.map((r) =>
      r.weight !== undefined ? { pluginRef: r.pluginRef, weight: r.weight } : { pluginRef: r.pluginRef },
    ),
  }));
  if (cfg.saturationDetector) out.saturationDetector = { ...cfg.saturationDetector };
  if (cfg.flowControl) out.flowControl = structuredClone(cfg.flowControl);
  if (cfg.dataLayer) out.dataLayer = structuredClone(cfg.dataLayer);
  if (cfg.parser) out.parser = { ...cfg.parser };
  if (cfg.requestHandler) out.requestHandler = structuredClone(cfg.requestHandler);
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
  return normalizeEppConfig(raw, `${cfg.source} with ${where}`);
}
