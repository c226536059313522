import { afterEach, beforeEach, vi } from "vitest";

/** What the current test wrote to stdout / stderr (reset before each test; tests may reset it too). */
export interface Captured {
  out: string;
  err: string;
}

/**
 * Captures `process.stdout` / `process.stderr` writes in every test of the calling scope (a file, or a `describe`
 * block): registers a `beforeEach` that installs the spies and an `afterEach` that restores them and clears
 * `process.exitCode`.
 */
export function captureOutput(): Captured {
  const io: Captured = { out: "", err: "" };
  beforeEach(() => {
    io.out = "";
    io.err = "";
    vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      io.out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      io.err += String(s);
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });
  return io;
}
