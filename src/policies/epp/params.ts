/**
 * zod building blocks for plugin `parameters` (strict objects: an unknown parameter is an error that names the
 * plugin and lists the accepted ones). Durations are Go/Kubernetes strings (`200ms`, `2s`) as in the real configs.
 */
import { z } from "zod";
import { parseDurationSeconds } from "../common.ts";

export const num = z.number();
export const nonNeg = z.number().min(0);
export const pos = z.number().positive();
export const nonNegInt = z.number().int().min(0);
export const posInt = z.number().int().positive();
export const unit = z.number().min(0).max(1);

/** A duration string (`200ms`, `2s`, `5m`) parsed to seconds. */
export const duration = z.string().transform((s, ctx) => {
  const v = parseDurationSeconds(s);
  if (v === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a duration such as "200ms" or "2s", got "${s}"` });
    return z.NEVER;
  }
  return v;
});

/** No parameters at all. */
export const none = z.strictObject({});

/** Parameters accepted and ignored (types kept for config compatibility only). */
export const anything = z.record(z.string(), z.unknown());

/** `maxNumOfEndpoints` of the pickers (default 1; gatelab dispatches to the first). */
export const pickerParams = z.strictObject({ maxNumOfEndpoints: posInt.default(1) });
