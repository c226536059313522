/**
 * Shared helpers for the benchmarks. Each benchmark prints readable lines, then as its LAST line one JSON object
 * `{"name","requests","events","wall_s","requests_per_s","events_per_s","peak_rss_mb"}`.
 * Wall time is measured here, in bench/ only: the simulation itself never reads a clock.
 */
import { fmtNum } from "../src/report/table.ts";

export interface BenchResult {
  name: string;
  requests: number;
  events: number;
  wall_s: number;
  requests_per_s: number;
  events_per_s: number;
  peak_rss_mb: number;
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Peak resident set size of this process so far, in MB (getrusage maxrss). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function result(name: string, requests: number, events: number, wall: number): BenchResult {
  return {
    name,
    requests,
    events,
    wall_s: Math.round(wall * 1000) / 1000,
    requests_per_s: Math.round(requests / wall),
    events_per_s: Math.round(events / wall),
    peak_rss_mb: Math.round(peakRssMb()),
  };
}

export function line(label: string, r: BenchResult, extra = ""): string {
  return `${label}: ${fmtNum(r.requests)} requests, ${fmtNum(r.events)} events in ${r.wall_s.toFixed(3)} s → ${fmtNum(r.requests_per_s)} req/s, ${fmtNum(r.events_per_s)} events/s, peak RSS ${r.peak_rss_mb} MB${extra ? ` · ${extra}` : ""}`;
}

export function finish(label: string, r: BenchResult, extra = ""): void {
  process.stdout.write(`${line(label, r, extra)}\n${JSON.stringify(r)}\n`);
}
