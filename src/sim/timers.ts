/**
 * Timers as components see the event loop: a component that acts on its own schedule (the gateway's retries,
 * flow-control ticks and TTL sweeps) asks the loop for a timer once and arms it with (time, argument); the loop calls
 * it back at that time. Events of every component share the one heap, so ties still break by push order and a run
 * stays a pure function of (scenario, seed).
 */

/** A timer: `at(t, arg)` schedules one firing at simulated time `t` (≥ now) with `arg`. */
export interface Timer {
  at(t: number, arg: number): void;
}

/** The event loop's side that components see. */
export interface Timers {
  /** Simulated time of the event being processed, seconds. */
  readonly now: number;
  /** A new timer whose firings call `fire(arg)`; create timers while building the component, not per event. */
  timer(fire: (arg: number) => void): Timer;
}
