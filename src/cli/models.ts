import type { Command } from "commander";
import { listGpus, listModels } from "../models/catalog.ts";
import { fmtNum, renderTable } from "../report/table.ts";

export function registerModelsCommand(program: Command): void {
  program
    .command("models")
    .description("list the GPUs and models of the catalog, with their sources")
    .option("--json", "print as JSON")
    .action((o: { json?: boolean }) => {
      const gpus = listGpus();
      const models = listModels();
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ gpus, models }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${renderTable(
          ["gpu", "BF16 TFLOP/s", "HBM TB/s", "memory GiB", "source"],
          gpus.map((g) => [
            g.name,
            fmtNum(g.peakBf16Flops / 1e12, 1),
            fmtNum(g.memoryBandwidth / 1e12, 2),
            g.memoryGiB,
            g.source,
          ]),
        )}\n\n`,
      );
      process.stdout.write(
        `${renderTable(
          ["model", "params (B)", "layers", "hidden", "heads/kv", "weights GB", "HF id"],
          models.map((m) => [
            m.name,
            fmtNum(m.paramCount / 1e9, 2),
            m.numLayers,
            m.hiddenSize,
            `${m.numHeads}/${m.numKvHeads}`,
            fmtNum(m.weightBytes / 1e9, 1),
            m.hfId,
          ]),
        )}\n`,
      );
    });
}
