/**
 * What the terminal shows while a long command runs, and what it is left with when the user interrupts it.
 *
 * - `simulationProgress`: a one-line status on stderr for `run`, `compare` and `drill` once a simulation has taken
 *   more than two seconds of wall time — requests sent so far (of the expected number), simulated seconds. Only on a
 *   terminal and never when `CI` is set; the line is erased when the run ends. The wall clock is read here, in the
 *   CLI, to decide when to draw; the simulation never sees it (determinism holds).
 * - `onInterrupt`: SIGINT/SIGTERM handlers that restore the terminal (cursor shown, line wrap on, status line erased)
 *   and print what was saved and how to resume before exiting 130 (SIGINT) or 143 (SIGTERM), as shells expect.
 */
import type { Request, RequestSource } from "../sim/request.ts";

/** Show the cursor, enable line wrap (DECAWM), erase the current line: what a progress bar may have changed. */
export const RESTORE_TERMINAL = "\u001b[?25h\u001b[?7h\r\u001b[2K";

export function progressWanted(stream: NodeJS.WriteStream = process.stderr, env = process.env): boolean {
  return stream.isTTY === true && !env.CI;
}

export interface SimulationProgress {
  /** Wraps a run's request source so that pulling requests drives the status line. */
  wrap(label: string, expected: number | undefined): (src: RequestSource) => RequestSource;
  /** Erases the line (call when the runs end). */
  done(): void;
}

const DELAY_MS = 2000;
const EVERY_MS = 250;

/** A status line for simulations on `stream` (a no-op unless `progressWanted`). */
export function simulationProgress(
  stream: NodeJS.WriteStream = process.stderr,
  enabled = progressWanted(stream),
  now: () => number = Date.now,
): SimulationProgress {
  const start = now();
  let last = 0;
  let shown = false;
  const draw = (text: string) => {
    stream.write(`\r\u001b[2K${text}`);
    shown = true;
  };
  return {
    wrap(label, expected) {
      return (src) => {
        if (!enabled) return src;
        let pulled = 0;
        let t = 0;
        const tick = () => {
          const w = now();
          if (w - start < DELAY_MS || w - last < EVERY_MS) return;
          last = w;
          const of = expected !== undefined ? ` of ~${Math.round(expected).toLocaleString("en-US")}` : "";
          draw(
            `${label}: ${pulled.toLocaleString("en-US")}${of} requests sent · ${Math.floor(t).toLocaleString("en-US")} s simulated · ${Math.round((w - start) / 1000)} s`,
          );
        };
        const wrapped: RequestSource = {
          next(): Request | undefined {
            const r = src.next();
            if (r !== undefined) {
              pulled++;
              t = r.arrival;
              if ((pulled & 255) === 0) tick();
            }
            return r;
          },
        };
        if (src.onFinish !== undefined) {
          const f = src.onFinish.bind(src);
          wrapped.onFinish = (req, at, completed) => {
            const more = f(req, at, completed);
            if (more !== undefined) pulled += more.length;
            return more;
          };
        }
        return wrapped;
      };
    },
    done() {
      if (shown) stream.write("\r\u001b[2K");
      shown = false;
    },
  };
}

/**
 * Installs SIGINT and SIGTERM handlers for the duration of a command: `cleanup` runs first (stop a progress bar),
 * then the terminal is restored and `message()` (what was saved, how to resume) is printed. Returns the uninstaller.
 */
export function onInterrupt(message: () => string, cleanup?: () => void): () => void {
  const handler = (signal: NodeJS.Signals) => {
    try {
      cleanup?.();
    } catch {
      // the terminal is restored below whatever happened
    }
    if (process.stderr.isTTY) process.stderr.write(RESTORE_TERMINAL);
    process.stderr.write(`\ngatelab: interrupted (${signal}). ${message()}\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  return () => {
    process.removeListener("SIGINT", handler);
    process.removeListener("SIGTERM", handler);
  };
}
