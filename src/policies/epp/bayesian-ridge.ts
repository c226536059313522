/**
 * The latency predictor's model, trained online: a `StandardScaler` followed by scikit-learn's `BayesianRidge`
 * (evidence maximisation of the noise precision α and weight precision λ), as the llm-d latency predictor's training
 * server fits it when `LATENCY_MODEL_TYPE=bayesian_ridge` (llm-d/llm-d-latency-predictor@04e44cd
 * `training/training_server.py`: `_train_model_with_scaling`, `StandardScaler()` then `BayesianRidge(compute_score=
 * True)`; GIE release-1.5 `latencypredictor/training_server.py` L523–L532 is the same code).
 *
 * Training data are kept as the server keeps them: bucketed by (waiting-queue bucket 0 | 1–2 | 3–5 | 6–10 | 11+,
 * KV-usage bucket of 5 %, prefix-score bucket of 25 %) = 5 × 20 × 4 buckets, each a ring of the newest
 * `MAX_TRAINING_DATA_SIZE_PER_BUCKET` samples (training_server.py `_get_bucket_key`, `__init__`: `deque(maxlen=...)`).
 * A fit uses every retained sample. Per bucket the sufficient statistics (n, Σx, Σxxᵀ, Σy, Σxy, Σy²) are kept up to
 * date as samples come and go (O(d²) per sample, no allocation once a bucket's ring exists) and re-summed from the
 * rows after each full turn of the ring; a fit adds up the buckets' statistics (O(buckets · d²)) and solves d×d.
 *
 * The fit, from the statistics (no design matrix is materialised):
 * - scaler: mean_j and population std s_j of every column, s_j < 10·ε → 1 (sklearn `_handle_zeros_in_scale`);
 * - on the scaled, centred data, G = XᵀX, b = Xᵀy, yy = yᵀy (y centred: `fit_intercept=True`);
 * - G = V Λ Vᵀ (cyclic Jacobi: deterministic; sklearn takes an SVD of X, same eigenvalues Λ = S²);
 * - α₀ = 1/(var(y) + ε), λ₀ = 1; repeat ≤ 300 times (`max_iter`): w = V (Vᵀb / (Λ + λ/α)),
 *   rmse = ‖y − Xw‖², γ = Σ αΛ/(λ + αΛ), λ = (γ + 2λ₁)/(‖w‖² + 2λ₂), α = (n − γ + 2α₁)/(rmse + 2α₂), stop when
 *   Σ|w − w_prev| < `tol` 1e-3 (not on the first pass); α₁ = α₂ = λ₁ = λ₂ = 1e-6; then w once more with the last
 *   α, λ (sklearn `BayesianRidge.fit`, defaults of `linear_model/_bayes.py`).
 * - prediction (objective `mean`, the Helm charts' `LATENCY_OBJECTIVE_TYPE`): ȳ + Σ w_j (x_j − mean_j)/s_j.
 */

/** Buckets per dimension (training_server.py `__init__`: `queue_buckets` 5, `cache_buckets` 1/0.05, `prefix_buckets` 4). */
export const QUEUE_BUCKETS = 5;
export const CACHE_BUCKETS = 20;
export const PREFIX_BUCKETS = 4;
export const BUCKETS = QUEUE_BUCKETS * CACHE_BUCKETS * PREFIX_BUCKETS;

/** training_server.py `_get_queue_bucket`: 0, 1–2, 3–5, 6–10, 11+ waiting requests. */
export function queueBucket(waiting: number): number {
  if (waiting <= 0) return 0;
  if (waiting <= 2) return 1;
  if (waiting <= 5) return 2;
  if (waiting <= 10) return 3;
  return 4;
}

/** training_server.py `_get_bucket_key` (cache and prefix clamped to [0, 1], then floor(v · buckets), capped). */
export function bucketKey(waiting: number, kv: number, prefix: number): number {
  const c = Math.min(Math.floor(Math.max(0, Math.min(1, kv)) * CACHE_BUCKETS), CACHE_BUCKETS - 1);
  const p = Math.min(Math.floor(Math.max(0, Math.min(1, prefix)) * PREFIX_BUCKETS), PREFIX_BUCKETS - 1);
  return (queueBucket(waiting) * CACHE_BUCKETS + c) * PREFIX_BUCKETS + p;
}

const EPS = 2.220446049250313e-16;
/** sklearn `BayesianRidge` defaults (`linear_model/_bayes.py`). */
const MAX_ITER = 300;
const TOL = 1e-3;
const ALPHA_1 = 1e-6;
const ALPHA_2 = 1e-6;
const LAMBDA_1 = 1e-6;
const LAMBDA_2 = 1e-6;

/** A fitted linear model in the original (unscaled) feature space: y = intercept + Σ w_j x_j. */
export class LinearModel {
  readonly weights: Float64Array;
  intercept: number;
  /** Samples it was fitted on (0: a default model). */
  samples = 0;
  /** Evidence iterations the fit took (sklearn `n_iter_`). */
  iterations = 0;
  alpha = 0;
  lambda = 0;

  constructor(d: number, intercept: number) {
    this.weights = new Float64Array(d);
    this.intercept = intercept;
  }

  predict(x: Float64Array): number {
    let y = this.intercept;
    const w = this.weights;
    for (let j = 0; j < w.length; j++) y += w[j]! * x[j]!;
    return y;
  }
}

/**
 * Eigen-decomposition of the symmetric d×d matrix `a` (row-major; destroyed) by cyclic Jacobi rotations: eigenvalues
 * into `vals`, eigenvectors as the columns of `vecs` (row-major). Deterministic: fixed sweep order, stops when the
 * off-diagonal mass is ≤ 1e-30 of the total or after 100 sweeps.
 */
export function jacobiEigen(a: Float64Array, d: number, vals: Float64Array, vecs: Float64Array): void {
  vecs.fill(0);
  for (let i = 0; i < d; i++) vecs[i * d + i] = 1;
  let total = 0;
  for (let i = 0; i < d * d; i++) total += a[i]! * a[i]!;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q]! * a[p * d + q]!;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (apq === 0) continue;
        const app = a[p * d + p]!;
        const aqq = a[q * d + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!;
          const akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!;
          const aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = vecs[k * d + p]!;
          const vkq = vecs[k * d + q]!;
          vecs[k * d + p] = c * vkp - s * vkq;
          vecs[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  for (let i = 0; i < d; i++) vals[i] = a[i * d + i]!;
}

/**
 * The bucketed training set of one target (TTFT or TPOT) with d features, and the Bayesian ridge fit on it.
 */
export class BucketedRidge {
  readonly d: number;
  /** Newest samples kept per bucket (`MAX_TRAINING_DATA_SIZE_PER_BUCKET`). */
  readonly perBucket: number;
  /** Row ring per bucket: perBucket rows of [x_0 … x_{d−1}, y]; allocated on the bucket's first sample. */
  private readonly rings: (Float64Array | undefined)[] = new Array(BUCKETS).fill(undefined);
  private readonly count = new Int32Array(BUCKETS);
  private readonly head = new Int32Array(BUCKETS);
  private readonly dirty = new Uint8Array(BUCKETS);
  /** Cached statistics per bucket: [n, Σx (d), Σxxᵀ (d·d), Σy, Σxy (d), Σy²]. */
  private readonly stats: (Float64Array | undefined)[] = new Array(BUCKETS).fill(undefined);
  private readonly statLen: number;
  private changed = false;
  // Fit scratch (no allocation per fit; read by fitBayesianRidge).
  private readonly sx: Float64Array;
  private readonly sxx: Float64Array;
  private readonly sxy: Float64Array;
  readonly mean: Float64Array;
  readonly scale: Float64Array;
  readonly g: Float64Array;
  readonly b: Float64Array;
  readonly vals: Float64Array;
  readonly vecs: Float64Array;
  readonly vb: Float64Array;
  readonly rot: Float64Array;
  readonly coef: Float64Array;
  readonly coefOld: Float64Array;

  constructor(d: number, perBucket: number) {
    this.d = d;
    this.perBucket = perBucket;
    this.statLen = 1 + d + d * d + 1 + d + 1;
    this.sx = new Float64Array(d);
    this.sxx = new Float64Array(d * d);
    this.sxy = new Float64Array(d);
    this.mean = new Float64Array(d);
    this.scale = new Float64Array(d);
    this.g = new Float64Array(d * d);
    this.b = new Float64Array(d);
    this.vals = new Float64Array(d);
    this.vecs = new Float64Array(d * d);
    this.vb = new Float64Array(d);
    this.rot = new Float64Array(d);
    this.coef = new Float64Array(d);
    this.coefOld = new Float64Array(d);
  }

  /** Retained samples (what the server's `_all_samples` returns). */
  get size(): number {
    let n = 0;
    for (let k = 0; k < BUCKETS; k++) n += this.count[k]!;
    return n;
  }

  /**
   * Adds sample (x, y) to bucket `key`, dropping the bucket's oldest when full (deque maxlen). The bucket's statistics
   * are updated in place (O(d²)): + the new row, − the evicted one; each time the ring wraps they are re-summed from
   * the rows at the next fit, so rounding from the subtractions cannot accumulate.
   */
  add(key: number, x: Float64Array, y: number): void {
    const d = this.d;
    const w = d + 1;
    let ring = this.rings[key];
    if (ring === undefined) {
      this.rings[key] = ring = new Float64Array(this.perBucket * w);
      this.stats[key] = new Float64Array(this.statLen);
    }
    const st = this.stats[key]!;
    let slot: number;
    if (this.count[key]! < this.perBucket) slot = (this.head[key]! + this.count[key]!++) % this.perBucket;
    else {
      slot = this.head[key]!;
      this.head[key] = (slot + 1) % this.perBucket;
      if (this.dirty[key] === 0) this.accumulate(st, ring, slot * w, -1);
      if (this.head[key] === 0) this.dirty[key] = 1;
    }
    const o = slot * w;
    for (let j = 0; j < d; j++) ring[o + j] = x[j]!;
    ring[o + d] = y;
    if (this.dirty[key] === 0) this.accumulate(st, ring, o, 1);
    this.changed = true;
  }

  /** Adds (sign 1) or removes (−1) the row at `ring[o…]` to/from the statistics `st`. */
  private accumulate(st: Float64Array, ring: Float64Array, o: number, sign: number): void {
    const d = this.d;
    const oX = 1;
    const oXX = 1 + d;
    const oY = 1 + d + d * d;
    const oXY = oY + 1;
    const oYY = oXY + d;
    const y = ring[o + d]!;
    st[0]! += sign;
    st[oY]! += sign * y;
    st[oYY]! += sign * y * y;
    for (let i = 0; i < d; i++) {
      const xi = ring[o + i]!;
      st[oX + i]! += sign * xi;
      st[oXY + i]! += sign * xi * y;
      for (let j = i; j < d; j++) st[oXX + i * d + j]! += sign * xi * ring[o + j]!;
    }
  }

  private refresh(key: number): void {
    const d = this.d;
    const w = d + 1;
    const st = this.stats[key]!;
    st.fill(0);
    const ring = this.rings[key]!;
    const n = this.count[key]!;
    const oX = 1;
    const oXX = 1 + d;
    const oY = 1 + d + d * d;
    const oXY = oY + 1;
    const oYY = oXY + d;
    st[0] = n;
    // Rows in ring order from the oldest: the sums do not depend on the physical slot order.
    for (let r = 0; r < n; r++) {
      const o = ((this.head[key]! + r) % this.perBucket) * w;
      const y = ring[o + d]!;
      st[oY]! += y;
      st[oYY]! += y * y;
      for (let i = 0; i < d; i++) {
        const xi = ring[o + i]!;
        st[oX + i]! += xi;
        st[oXY + i]! += xi * y;
        for (let j = i; j < d; j++) st[oXX + i * d + j]! += xi * ring[o + j]!;
      }
    }
    this.dirty[key] = 0;
  }

  /**
   * Fits `out` on every retained sample (when at least `minSamples`); returns false (leaving `out` as it was) when
   * there are fewer, or when nothing changed since the last successful fit.
   */
  fit(out: LinearModel, minSamples: number): boolean {
    if (!this.changed) return false;
    const d = this.d;
    let n = 0;
    let sy = 0;
    let syy = 0;
    const sx = this.sx.fill(0);
    const sxx = this.sxx.fill(0);
    const sxy = this.sxy.fill(0);
    const oX = 1;
    const oXX = 1 + d;
    const oY = 1 + d + d * d;
    const oXY = oY + 1;
    const oYY = oXY + d;
    for (let k = 0; k < BUCKETS; k++) {
      if (this.count[k] === 0) continue;
      if (this.dirty[k] === 1) this.refresh(k);
      const st = this.stats[k]!;
      n += st[0]!;
      sy += st[oY]!;
      syy += st[oYY]!;
      for (let i = 0; i < d; i++) {
        sx[i]! += st[oX + i]!;
        sxy[i]! += st[oXY + i]!;
        for (let j = i; j < d; j++) sxx[i * d + j]! += st[oXX + i * d + j]!;
      }
    }
    if (n < minSamples || n === 0) return false;
    this.changed = false;
    fitBayesianRidge(n, d, sx, sxx, sy, sxy, syy, this, out);
    return true;
  }
}

/**
 * StandardScaler + BayesianRidge from sufficient statistics (Σxxᵀ given as its upper triangle, row-major d×d).
 * Writes the model, back in the original feature space, into `out`.
 */
function fitBayesianRidge(
  n: number,
  d: number,
  sx: Float64Array,
  sxx: Float64Array,
  sy: number,
  sxy: Float64Array,
  syy: number,
  s: BucketedRidge,
  out: LinearModel,
): void {
  const mean = s.mean;
  const scale = s.scale;
  const g = s.g;
  const b = s.b;
  const ym = sy / n;
  for (let j = 0; j < d; j++) {
    mean[j] = sx[j]! / n;
    const v = Math.max(0, sxx[j * d + j]! / n - mean[j]! * mean[j]!);
    const sd = Math.sqrt(v);
    scale[j] = sd < 10 * EPS ? 1 : sd;
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const c = (sxx[i * d + j]! - n * mean[i]! * mean[j]!) / (scale[i]! * scale[j]!);
      g[i * d + j] = c;
      g[j * d + i] = c;
    }
    b[i] = (sxy[i]! - n * mean[i]! * ym) / scale[i]!;
  }
  const yy = Math.max(0, syy - n * ym * ym);
  const varY = yy / n;
  const vals = s.vals;
  const vecs = s.vecs;
  jacobiEigen(g, d, vals, vecs);
  for (let k = 0; k < d; k++) if (vals[k]! < 0) vals[k] = 0;
  // Vᵀ b
  const vb = s.vb;
  for (let k = 0; k < d; k++) {
    let t = 0;
    for (let i = 0; i < d; i++) t += vecs[i * d + k]! * b[i]!;
    vb[k] = t;
  }
  const rot = s.rot;
  const coef = s.coef;
  const coefOld = s.coefOld;
  let alpha = 1 / (varY + EPS);
  let lambda = 1;
  // w for the current α, λ; returns rmse = ‖y − Xw‖² from the statistics.
  const update = (): number => {
    const r = lambda / alpha;
    let fit = 0;
    for (let k = 0; k < d; k++) {
      rot[k] = vb[k]! / (vals[k]! + r);
      fit += rot[k]! * (2 * vb[k]! - vals[k]! * rot[k]!);
    }
    for (let i = 0; i < d; i++) {
      let t = 0;
      for (let k = 0; k < d; k++) t += vecs[i * d + k]! * rot[k]!;
      coef[i] = t;
    }
    return Math.max(0, yy - fit);
  };
  let iter = 0;
  for (; iter < MAX_ITER; iter++) {
    const rmse = update();
    let gamma = 0;
    let norm = 0;
    for (let k = 0; k < d; k++) gamma += (alpha * vals[k]!) / (lambda + alpha * vals[k]!);
    for (let i = 0; i < d; i++) norm += coef[i]! * coef[i]!;
    lambda = (gamma + 2 * LAMBDA_1) / (norm + 2 * LAMBDA_2);
    alpha = (n - gamma + 2 * ALPHA_1) / (rmse + 2 * ALPHA_2);
    if (iter !== 0) {
      let delta = 0;
      for (let i = 0; i < d; i++) delta += Math.abs(coefOld[i]! - coef[i]!);
      if (delta < TOL) break;
    }
    coefOld.set(coef);
  }
  update();
  let intercept = ym;
  for (let j = 0; j < d; j++) {
    const w = coef[j]! / scale[j]!;
    out.weights[j] = w;
    intercept -= w * mean[j]!;
  }
  out.intercept = intercept;
  out.samples = n;
  out.iterations = Math.min(iter + 1, MAX_ITER);
  out.alpha = alpha;
  out.lambda = lambda;
}
