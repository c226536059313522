/**
 * `gatelab policies`: the routing policies usable as `--policy NAME` (name, one-line description, source), and with
 * `--plugins` the EndpointPickerConfig plugin types accepted by `--epp-config`.
 */
import type { Command } from "commander";
import { acceptedTypes, canonicalType, PLUGIN_TYPES, type PluginStatus } from "../policies/epp/catalog.ts";
import { POLICIES } from "../policies/registry.ts";
import { renderTable } from "../report/table.ts";

export interface PolicyListing {
  readonly name: string;
  readonly kind: "router" | "epp";
  readonly description: string;
  readonly source: string;
}

export function listPolicies(): PolicyListing[] {
  return [...POLICIES.values()].map((p) => ({
    name: p.name,
    kind: p.epp !== undefined ? "epp" : "router",
    description: p.description,
    source: p.source,
  }));
}

export interface PluginListing {
  readonly type: string;
  readonly canonical: string;
  readonly kind: string;
  readonly summary: string;
  /** simulated, no-op (runs, cannot change routing), not-simulated (refused when run), test-only. */
  readonly status: PluginStatus;
}

export function listPluginTypes(): PluginListing[] {
  const out: PluginListing[] = acceptedTypes().map((t) => {
    const c = canonicalType(t);
    const info = PLUGIN_TYPES.get(c)!;
    return { type: t, canonical: c, kind: info.kind, summary: info.summary, status: info.status };
  });
  return out;
}

export function formatPolicies(): string {
  return renderTable(
    ["policy", "kind", "description", "source"],
    listPolicies().map((p) => [p.name, p.kind, p.description, p.source]),
  );
}

export function formatPluginTypes(): string {
  return renderTable(
    ["plugin type", "kind", "status", "what it does"],
    listPluginTypes().map((p) => [
      p.type === p.canonical ? p.type : `${p.type} → ${p.canonical}`,
      p.kind,
      p.status,
      p.summary,
    ]),
  );
}

export function registerPoliciesCommand(program: Command): void {
  program
    .command("policies")
    .description("list the routing policies (--policy NAME) with a one-line description and their source")
    .option("--json", "print as JSON")
    .option("--plugins", "list the EndpointPickerConfig plugin types accepted by --epp-config instead")
    .action((o: { json?: boolean; plugins?: boolean }) => {
      if (o.plugins) {
        process.stdout.write(o.json ? `${JSON.stringify(listPluginTypes(), null, 2)}\n` : `${formatPluginTypes()}\n`);
        return;
      }
      process.stdout.write(o.json ? `${JSON.stringify(listPolicies(), null, 2)}\n` : `${formatPolicies()}\n`);
    });
}
