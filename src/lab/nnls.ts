/**
 * Non-negative least squares (Lawson & Hanson 1974, "Solving Least Squares Problems", ch. 23), and the plain least
 * squares it solves on its passive set: the numerics under calibration, free of any cost model.
 */

/** Solves min ‖A x − b‖² over x (length n) with x[j] ≥ 0 for j where `nonNeg[j]`; A is m×n row-major. */
export function nnls(
  A: Float64Array,
  b: Float64Array,
  m: number,
  n: number,
  nonNeg?: readonly boolean[],
): Float64Array {
  const bounded = (j: number) => nonNeg === undefined || nonNeg[j] !== false;
  const x = new Float64Array(n);
  const passive = new Array<boolean>(n).fill(false);
  for (let j = 0; j < n; j++) if (!bounded(j)) passive[j] = true;
  const tol = 1e-12;
  const solvePassive = (): Float64Array => {
    const idx: number[] = [];
    for (let j = 0; j < n; j++) if (passive[j]) idx.push(j);
    const z = new Float64Array(n);
    if (idx.length === 0) return z;
    const sol = lstsq(A, b, m, n, idx);
    idx.forEach((j, k) => {
      z[j] = sol[k]!;
    });
    return z;
  };
  // Start from the unconstrained solution of the free (unbounded) variables.
  let z = solvePassive();
  for (let j = 0; j < n; j++) if (passive[j]) x[j] = z[j]!;
  for (let iter = 0; iter < 30 * n + 30; iter++) {
    // Gradient w = Aᵀ(b − A x).
    const r = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let s = b[i]!;
      for (let j = 0; j < n; j++) s -= A[i * n + j]! * x[j]!;
      r[i] = s;
    }
    let best = -1;
    let bestW = tol;
    for (let j = 0; j < n; j++) {
      if (passive[j]) continue;
      let w = 0;
      for (let i = 0; i < m; i++) w += A[i * n + j]! * r[i]!;
      if (w > bestW) {
        bestW = w;
        best = j;
      }
    }
    if (best < 0) break;
    passive[best] = true;
    for (;;) {
      z = solvePassive();
      let ok = true;
      for (let j = 0; j < n; j++) if (passive[j] && bounded(j) && z[j]! <= 0) ok = false;
      if (ok) {
        x.set(z);
        break;
      }
      let alpha = 1;
      for (let j = 0; j < n; j++) {
        if (passive[j] && bounded(j) && z[j]! <= 0) {
          const a = x[j]! / (x[j]! - z[j]!);
          if (a < alpha) alpha = a;
        }
      }
      for (let j = 0; j < n; j++) x[j] = x[j]! + alpha * (z[j]! - x[j]!);
      for (let j = 0; j < n; j++) {
        if (passive[j] && bounded(j) && x[j]! <= tol) {
          passive[j] = false;
          x[j] = 0;
        }
      }
    }
  }
  return x;
}

/** Least squares on the columns `cols` of A (normal equations with Cholesky, tiny jitter for rank deficiency). */
function lstsq(A: Float64Array, b: Float64Array, m: number, n: number, cols: readonly number[]): Float64Array {
  const k = cols.length;
  const M = new Float64Array(k * k);
  const v = new Float64Array(k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const ap = A[i * n + cols[p]!]!;
      if (ap === 0) continue;
      v[p]! += ap * b[i]!;
      for (let q = 0; q < k; q++) M[p * k + q]! += ap * A[i * n + cols[q]!]!;
    }
  }
  let trace = 0;
  for (let p = 0; p < k; p++) trace += M[p * k + p]!;
  const jitter = (trace / Math.max(1, k)) * 1e-12 + 1e-300;
  for (let p = 0; p < k; p++) M[p * k + p]! += jitter;
  // Cholesky M = L Lᵀ.
  const L = new Float64Array(k * k);
  for (let p = 0; p < k; p++) {
    for (let q = 0; q <= p; q++) {
      let s = M[p * k + q]!;
      for (let r = 0; r < q; r++) s -= L[p * k + r]! * L[q * k + r]!;
      if (p === q) L[p * k + p] = Math.sqrt(Math.max(s, 1e-300));
      else L[p * k + q] = s / L[q * k + q]!;
    }
  }
  const y = new Float64Array(k);
  for (let p = 0; p < k; p++) {
    let s = v[p]!;
    for (let r = 0; r < p; r++) s -= L[p * k + r]! * y[r]!;
    y[p] = s / L[p * k + p]!;
  }
  const x = new Float64Array(k);
  for (let p = k - 1; p >= 0; p--) {
    let s = y[p]!;
    for (let r = p + 1; r < k; r++) s -= L[r * k + p]! * x[r]!;
    x[p] = s / L[p * k + p]!;
  }
  return x;
}
