import { Command } from "commander";
import { registerFidelityCommands } from "../../src/cli/fidelity.ts";

/** Runs `gatelab <args>` through the fidelity commands (errors thrown, not exited); returns what it wrote to stdout. */
export async function runFidelityCli(args: string[]): Promise<string> {
  const program = new Command("gatelab").exitOverride();
  registerFidelityCommands(program);
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: "user" });
  } finally {
    process.stdout.write = write;
  }
  return out;
}
