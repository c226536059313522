/**
 * Named routing policies (`--policy NAME`). Each entry builds a fresh router for one run.
 * A new router is one file plus one line here.
 */
import { LeastRequestRouter } from "./routers/least-request.ts";
import { RandomRouter } from "./routers/random.ts";
import { RoundRobinRouter } from "./routers/round-robin.ts";
import type { Router, RouterInit } from "./types.ts";

export interface PolicyEntry {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  create(init: RouterInit): Router;
}

const entries: PolicyEntry[] = [
  {
    name: "round-robin",
    description: "cycle through replicas in order; blind to load and cache",
    source: "Envoy/BLIS/Vidur round-robin",
    create: () => new RoundRobinRouter(),
  },
  {
    name: "random",
    description: "uniformly random replica (seeded)",
    source: "GIE random-picker, Vidur random",
    create: () => new RandomRouter(),
  },
  {
    name: "least-request",
    description: "fewest in-flight requests from this gateway (fresh), random tie-break",
    source: "Envoy LEAST_REQUEST, Vidur lor",
    create: () => new LeastRequestRouter(),
  },
];

export const POLICIES: ReadonlyMap<string, PolicyEntry> = new Map(entries.map((e) => [e.name, e]));

export function policyNames(): string[] {
  return [...POLICIES.keys()];
}
