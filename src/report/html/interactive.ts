/**
 * Makes a chart spec interactive for the browser (the SVG/PNG files stay static): tooltips on every mark, zoom and
 * pan on charts with two continuous axes (drag, wheel; double-click resets), and legend entries that highlight their
 * series when clicked (shift-click for several). A deep copy; the input is not changed.
 */
import type { TopLevelSpec } from "vega-lite";

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === "object" && x !== null && !Array.isArray(x);

function continuous(ch: unknown): boolean {
  return isObj(ch) && typeof ch.field === "string" && (ch.type === "quantitative" || ch.type === "temporal");
}

/** A unit's own data is a placeholder (`[{}]`, used by rules and labels): nothing to zoom or toggle. */
function placeholder(u: Obj): boolean {
  const d = u.data;
  return (
    isObj(d) &&
    Array.isArray(d.values) &&
    d.values.length === 1 &&
    isObj(d.values[0]) &&
    Object.keys(d.values[0]).length === 0
  );
}

export function interactiveSpec(spec: TopLevelSpec): TopLevelSpec {
  const out = structuredClone(spec) as unknown as Obj;
  let n = 0;
  const concat = ["vconcat", "hconcat", "concat"].some((k) => Array.isArray(out[k]));

  /** `inherited`: encoding of the enclosing layer spec (layers inherit x/y from it). */
  const visitView = (v: Obj, inherited: Obj) => {
    const enc = { ...inherited, ...(isObj(v.encoding) ? v.encoding : {}) };
    if (Array.isArray(v.layer)) {
      let bound = false;
      for (const l of v.layer) {
        if (!isObj(l)) continue;
        const lenc = { ...enc, ...(isObj(l.encoding) ? l.encoding : {}) };
        tooltip(l);
        if (!bound && !placeholder(l) && eligible(l, lenc)) {
          addParams(l, lenc);
          bound = true;
        }
      }
    } else if (v.mark !== undefined) {
      tooltip(v);
      if (eligible(v, enc)) addParams(v, enc);
    }
    for (const k of ["vconcat", "hconcat", "concat"]) {
      const list = v[k];
      if (Array.isArray(list)) for (const c of list) if (isObj(c)) visitView(c, {});
    }
  };

  const eligible = (u: Obj, enc: Obj) => {
    const t = isObj(u.mark) ? u.mark.type : u.mark;
    return (t === "line" || t === "point" || t === "area") && continuous(enc.x) && continuous(enc.y);
  };

  const tooltip = (u: Obj) => {
    if (u.mark === undefined) return;
    const enc = isObj(u.encoding) ? u.encoding : undefined;
    if (enc?.tooltip !== undefined) return;
    const m = isObj(u.mark) ? u.mark : { type: u.mark };
    if (m.type === "text" || m.type === "rule") return;
    u.mark = { ...m, tooltip: true };
  };

  const addParams = (u: Obj, enc: Obj) => {
    const params: Obj[] = Array.isArray(u.params) ? [...(u.params as Obj[])] : [];
    params.push({ name: `zoom${n}`, select: "interval", bind: "scales" });
    const color = enc.color;
    const hasOpacity = isObj(u.encoding) && u.encoding.opacity !== undefined;
    if (!concat && isObj(color) && typeof color.field === "string" && color.type === "nominal" && !hasOpacity) {
      const name = `legend${n}`;
      params.push({ name, select: { type: "point", fields: [color.field] }, bind: "legend" });
      u.encoding = {
        ...(isObj(u.encoding) ? u.encoding : {}),
        opacity: { condition: { param: name, value: 1 }, value: 0.15 },
      };
    }
    u.params = params;
    n++;
  };

  visitView(out, {});
  return out as unknown as TopLevelSpec;
}
