/**
 * How a request ends and why a dropped one was dropped: the one registry of both. The numeric codes are what the
 * per-request records store (typed arrays); the names are what summaries, CSVs and docs show; the docs tables are
 * generated from these entries (scripts/build-docs-tables.ts; `test/docs-tables.test.ts` keeps them in sync).
 * Adding a kind is one line here; the `satisfies` clauses make the compiler ask for its entry.
 */

/** How a request ended (records `outcome`). */
export const Outcome = {
  Pending: 0,
  Completed: 1,
  /** Rejected by a replica: the prompt can never fit (longer than the KV cache or `max_model_len`). */
  Rejected: 2,
  /** Dropped: no endpoint could serve it (503), shed (429) after its last retry, or timed out. */
  Dropped: 3,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface OutcomeInfo {
  /** Name in summaries and CSVs. */
  readonly name: string;
  /** HTTP status the client saw ("" when it varies or does not apply). */
  readonly status: string;
  readonly doc: string;
}

export const OUTCOME_INFO = {
  Pending: { name: "pending", status: "", doc: "still in flight (no request of a finished run)" },
  Completed: { name: "completed", status: "200", doc: "every output token generated" },
  Rejected: {
    name: "rejected",
    status: "413",
    doc: "a replica refused it: prompt + output can never fit (`max_model_len` or the whole KV cache)",
  },
  Dropped: {
    name: "dropped",
    status: "429, 503, 403",
    doc: "the gateway refused its last attempt (see the drop causes)",
  },
} as const satisfies Record<keyof typeof Outcome, OutcomeInfo>;

/**
 * Why a request was dropped (records `dropReason`): shed by the flow controller (queue caps, 429), shed by the legacy
 * admission check (saturated, 429), timed out in the gateway queue (TTL, 429), over its tenant's rate (429), model not
 * allowed for its tenant (403), no endpoint serves it (503), refused by the router (its status).
 */
export const DropReason = {
  None: 0,
  Shed: 1,
  Saturated: 2,
  TimedOut: 3,
  QuotaRate: 4,
  Forbidden: 5,
  NoEndpoints: 6,
  Router: 7,
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export interface DropReasonInfo {
  /** Name in `dropped_by_cause`. */
  readonly name: string;
  /** The gateway's counter of refused attempts with this cause (`gateway` in the summary); "" for none. */
  readonly counter: string;
  readonly status: string;
  readonly doc: string;
}

export const DROP_REASON_INFO = {
  None: { name: "none", counter: "", status: "", doc: "not dropped" },
  Shed: {
    name: "shed",
    counter: "shed_capacity",
    status: "429",
    doc: "a flow-control queue (global or priority band) was full",
  },
  Saturated: {
    name: "saturated",
    counter: "shed_saturated",
    status: "429",
    doc: "sheddable request refused by the legacy admission check while the pool was saturated",
  },
  TimedOut: {
    name: "timed_out",
    counter: "timed_out",
    status: "429",
    doc: "queued in flow control longer than its TTL",
  },
  QuotaRate: { name: "quota_rate", counter: "quota_rate", status: "429", doc: "over its tenant's rate quota" },
  Forbidden: { name: "forbidden", counter: "quota_forbidden", status: "403", doc: "model not allowed for its tenant" },
  NoEndpoints: { name: "no_endpoints", counter: "no_endpoints", status: "503", doc: "no pool serves its model" },
  Router: { name: "router", counter: "router_refused", status: "router's", doc: "the router refused it" },
} as const satisfies Record<keyof typeof DropReason, DropReasonInfo>;

/** The gateway counter names of the drop causes. */
export type DropCounter = Exclude<(typeof DROP_REASON_INFO)[keyof typeof DropReason]["counter"], "">;

/** Entries of a registry in code order (index = code). */
function byCode<K extends string, E>(codes: Record<K, number>, info: Record<K, E>): E[] {
  const out: E[] = [];
  for (const k of Object.keys(codes) as K[]) out[codes[k]] = info[k];
  return out;
}

/** Outcome names by code. */
export const OUTCOME_NAMES: readonly string[] = byCode(Outcome, OUTCOME_INFO).map((e) => e.name);
/** Drop reason entries and names by code. */
export const DROP_REASONS_BY_CODE: readonly DropReasonInfo[] = byCode(DropReason, DROP_REASON_INFO);
export const DROP_REASONS: readonly string[] = DROP_REASONS_BY_CODE.map((e) => e.name);
