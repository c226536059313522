/**
 * Bad input (scenario, trace, config, CLI argument). The CLI prints only the message and exits with code 2; no stack
 * trace. Messages name the file, line or field and what was expected, e.g.
 * `scenarios/x.yaml:12: pools.0.replicas: expected a positive integer, got "four"`.
 */
export class InputError extends Error {
  override readonly name = "InputError";
}

/** `FILE:LINE: FIELD: what was expected` (line and field optional). */
export function inputError(
  file: string | undefined,
  line: number | undefined,
  field: string | undefined,
  what: string,
): InputError {
  const where = [file, line !== undefined ? String(line) : undefined].filter((x) => x !== undefined).join(":");
  const parts = [where || undefined, field, what].filter((x) => x !== undefined && x !== "");
  return new InputError(parts.join(": "));
}
