/**
 * A strict reader of the OpenMetrics text gatelab writes (the subset that both `promtool check metrics` and
 * `promtool tsdb create-blocks-from openmetrics` read): `# HELP` then `# TYPE` once per family, families not
 * interleaved, samples `name{labels} value timestamp` with whole-second timestamps strictly increasing per series,
 * counters `x_total` never decreasing, histograms with ascending `le` buckets ending in `+Inf` = `_count`, `# EOF` last.
 * Throws with the line number on the first violation.
 */
export interface Family {
  type: "gauge" | "counter" | "histogram";
  help: string;
  /** Sample name + sorted labels → points [timestamp, value] in file order. */
  series: Map<string, [number, number][]>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseLabels(s: string, ln: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf("=", i);
    const key = s.slice(i, eq);
    if (!LABEL.test(key)) throw new Error(`line ${ln}: bad label name "${key}"`);
    if (s[eq + 1] !== '"') throw new Error(`line ${ln}: label value must be quoted`);
    let j = eq + 2;
    let v = "";
    for (;;) {
      const c = s[j];
      if (c === undefined) throw new Error(`line ${ln}: unterminated label value`);
      if (c === "\\") {
        const n = s[j + 1];
        if (n === "n") v += "\n";
        else if (n === "\\" || n === '"') v += n;
        else throw new Error(`line ${ln}: bad escape \\${n}`);
        j += 2;
      } else if (c === '"') break;
      else {
        v += c;
        j++;
      }
    }
    if (key in out) throw new Error(`line ${ln}: duplicate label ${key}`);
    out[key] = v;
    j++;
    if (j < s.length) {
      if (s[j] !== ",") throw new Error(`line ${ln}: expected "," between labels`);
      j++;
    }
    i = j;
  }
  return out;
}

function value(s: string, ln: number): number {
  if (s === "+Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  if (s === "NaN") return Number.NaN;
  if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${ln}: bad value "${s}"`);
  return Number(s);
}

export const key = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",")}}`;

export function parseOpenMetrics(text: string): Map<string, Family> {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.at(-1) !== "# EOF") throw new Error("the file must end with # EOF");
  const fams = new Map<string, Family>();
  let cur: { name: string; fam: Family } | undefined;
  let pendingHelp: { name: string; help: string } | undefined;
  const closed = new Set<string>();
  // Histogram point being assembled: labels key without le → { ts, les, counts }.
  const hist = new Map<string, { ts: number; le: number[]; counts: number[]; count?: number }>();
  const lastTs = new Map<string, number>();
  const checkHist = (ln: number) => {
    for (const [k, h] of hist) {
      if (h.le.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`line ${ln}: ${k}: buckets must end with +Inf`);
      for (let i = 1; i < h.le.length; i++) {
        if (!(h.le[i]! > h.le[i - 1]!)) throw new Error(`line ${ln}: ${k}: le must ascend`);
        if (h.counts[i]! < h.counts[i - 1]!) throw new Error(`line ${ln}: ${k}: buckets must be cumulative`);
      }
      if (h.count !== h.counts.at(-1)) throw new Error(`line ${ln}: ${k}: +Inf bucket must equal _count`);
    }
    hist.clear();
  };
  for (let i = 0; i < lines.length - 1; i++) {
    const ln = i + 1;
    const l = lines[i]!;
    if (l.startsWith("# HELP ")) {
      const m = /^# HELP (\S+) (.*)$/.exec(l);
      if (!m) throw new Error(`line ${ln}: bad HELP`);
      pendingHelp = { name: m[1]!, help: m[2]! };
      continue;
    }
    if (l.startsWith("# TYPE ")) {
      const m = /^# TYPE (\S+) (gauge|counter|histogram)$/.exec(l);
      if (!m) throw new Error(`line ${ln}: bad TYPE`);
      const name = m[1]!;
      if (!NAME.test(name)) throw new Error(`line ${ln}: bad metric name ${name}`);
      if (fams.has(name)) throw new Error(`line ${ln}: family ${name} appears twice`);
      if (pendingHelp?.name !== name) throw new Error(`line ${ln}: ${name} has no HELP right before its TYPE`);
      if (m[2] === "counter" && !name.endsWith("_total")) throw new Error(`line ${ln}: counter ${name} without _total`);
      checkHist(ln);
      if (cur) closed.add(cur.name);
      const fam: Family = { type: m[2] as Family["type"], help: pendingHelp.help, series: new Map() };
      fams.set(name, fam);
      cur = { name, fam };
      pendingHelp = undefined;
      continue;
    }
    if (l.startsWith("#")) throw new Error(`line ${ln}: unexpected comment "${l}"`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+) (\S+)$/.exec(l);
    if (!m) throw new Error(`line ${ln}: expected name{labels} value timestamp, got "${l}"`);
    if (!cur) throw new Error(`line ${ln}: sample before any TYPE`);
    const [, name, lab, val, tsText] = m as unknown as [string, string, string | undefined, string, string];
    if (!/^\d+$/.test(tsText)) throw new Error(`line ${ln}: timestamp must be whole seconds, got ${tsText}`);
    const ts = Number(tsText);
    const labels = parseLabels(lab ?? "", ln);
    const v = value(val, ln);
    const fam = cur.fam;
    const base = cur.name;
    let suffix = "";
    if (fam.type === "histogram") {
      suffix = name.slice(base.length);
      if (!name.startsWith(base) || !["_bucket", "_count", "_sum"].includes(suffix))
        throw new Error(`line ${ln}: ${name} is not a sample of histogram ${base}`);
    } else if (name !== base) throw new Error(`line ${ln}: ${name} is not a sample of ${base}`);
    const sk = key(name, labels);
    let pts = fam.series.get(sk);
    if (!pts) fam.series.set(sk, (pts = []));
    const prev = lastTs.get(sk);
    if (prev !== undefined && ts <= prev) throw new Error(`line ${ln}: ${sk}: timestamps must increase`);
    lastTs.set(sk, ts);
    if (fam.type === "counter" && pts.length > 0 && v < pts.at(-1)![1])
      throw new Error(`line ${ln}: counter ${sk} decreased`);
    pts.push([ts, v]);
    if (fam.type === "histogram") {
      const { le, ...rest } = labels;
      const hk = key(base, rest);
      let h = hist.get(hk);
      if (h && h.ts !== ts) {
        checkHist(ln);
        h = undefined;
      }
      if (!h) hist.set(hk, (h = { ts, le: [], counts: [] }));
      if (suffix === "_bucket") {
        if (le === undefined) throw new Error(`line ${ln}: bucket without le`);
        h.le.push(value(le, ln));
        h.counts.push(v);
      } else if (suffix === "_count") h.count = v;
    }
  }
  checkHist(lines.length);
  return fams;
}

/** The last value of each series of a family whose labels include `match`. */
export function last(fams: Map<string, Family>, family: string, name: string, match: Record<string, string> = {}) {
  const f = fams.get(family);
  if (!f) throw new Error(`no family ${family}`);
  const out: number[] = [];
  for (const [k, pts] of f.series) {
    if (!k.startsWith(`${name}{`)) continue;
    if (Object.entries(match).every(([a, b]) => k.includes(`${a}=${JSON.stringify(b)}`))) out.push(pts.at(-1)![1]);
  }
  return out;
}
