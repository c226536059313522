/** Option parsers shared by the commands. */
import { InvalidArgumentError } from "commander";

/**
 * `-s, --seed <n>`: a non-negative integer a double holds exactly (≤ 2^53 − 1, the scenario's `seed` bound): beyond,
 * `-s 9007199254740993` and `-s 9007199254740992` would be one run, and `-s 1e30` passed for an integer.
 */
export function seedArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${v}"`);
  if (n > Number.MAX_SAFE_INTEGER)
    throw new InvalidArgumentError(
      `at most ${Number.MAX_SAFE_INTEGER.toLocaleString("en-US")} (2^53 − 1: larger seeds are not told apart), got "${v}"`,
    );
  return n;
}
