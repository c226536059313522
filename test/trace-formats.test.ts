import { describe, expect, it } from "vitest";
import {
  detectFormat,
  outputFormat,
  TRACE_FORMAT_REGISTRY,
  TRACE_FORMATS,
  traceFormatEntry,
  WRITE_FORMATS,
} from "../src/workloads/trace-formats.ts";

describe("trace-format registry", () => {
  it("has one format for any other path (a folder) and one default for each file ending", () => {
    expect(TRACE_FORMATS.filter((f) => TRACE_FORMAT_REGISTRY[f].sniff.otherwise)).toEqual(["servegen"]);
    for (const ext of [".csv", ".jsonl", ".json"]) {
      const untested = TRACE_FORMATS.filter((f) => {
        const s = TRACE_FORMAT_REGISTRY[f].sniff;
        return s.ext.includes(ext) && s.test === undefined;
      });
      expect(untested.length, ext).toBe(1);
    }
  });

  it("recognises each format from its name or first line", () => {
    const line = (l: string) => () => l;
    expect(detectFormat("/t/trace.csv")).toBe("blis");
    expect(detectFormat("/t/AzureLLMInferenceTrace_code.csv")).toBe("azure");
    expect(detectFormat("/t/BurstGPT_1.csv")).toBe("burstgpt");
    expect(detectFormat("/t/azure-burst.csv")).toBe("azure");
    expect(detectFormat("/t/chunk-3-trace.csv")).toBe("servegen");
    expect(detectFormat("/t/servegen-folder")).toBe("servegen");
    expect(detectFormat("/t/a.jsonl", line('{"timestamp": 0, "hash_ids": [1]}'))).toBe("mooncake");
    expect(detectFormat("/t/a.jsonl", line('{"timestamp_ms": 0, "hash_ids": [1]}'))).toBe("exgentic");
    expect(detectFormat("/t/a.json", line('{"resourceSpans": []}'))).toBe("otlp");
    expect(detectFormat("/t/a.jsonl", line('{"gatelab": "requests", "version": 1}'))).toBe("jsonl");
    expect(detectFormat("/t/missing.jsonl", () => undefined)).toBe("jsonl");
    // A renamed CSV by its header: Azure 2023's and BurstGPT's columns are unmistakable (BOM and quotes allowed).
    expect(detectFormat("/t/prod.csv", line("TIMESTAMP,ContextTokens,GeneratedTokens"))).toBe("azure");
    expect(detectFormat("/t/prod.csv", line('\ufeff"TIMESTAMP","ContextTokens","GeneratedTokens"'))).toBe("azure");
    expect(
      detectFormat("/t/prod.csv", line("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type")),
    ).toBe("burstgpt");
    expect(detectFormat("/t/prod.csv", line("arrival_time_us,input_tokens,output_tokens"))).toBe("blis");
    expect(detectFormat("/t/missing.csv", () => undefined)).toBe("blis");
  });

  it("reads the first line only for the endings that need it", () => {
    let reads = 0;
    const first = () => {
      reads++;
      return '{"hash_ids": []}';
    };
    // A name that says the format reads nothing; a `.csv` whose name does not is read once for its header (two
    // formats look at it), a `.jsonl` once for its first record.
    expect(detectFormat("/t/AzureLLMInferenceTrace_conv.csv", first)).toBe("azure");
    expect(reads).toBe(0);
    expect(detectFormat("/t/x.csv", first)).toBe("blis");
    expect(reads).toBe(1);
    expect(detectFormat("/t/x.jsonl", first)).toBe("mooncake");
    expect(reads).toBe(2);
  });

  it("writes the formats with a writer; the output name picks one", () => {
    expect(WRITE_FORMATS).toEqual(["blis", "mooncake", "jsonl", "otlp"]);
    expect(outputFormat("out.CSV")).toBe("blis");
    expect(outputFormat("out.otlp.json")).toBe("otlp");
    expect(outputFormat("out.json")).toBe("jsonl");
    expect(outputFormat("out.csv", "mooncake")).toBe("mooncake");
  });

  it("an unknown format name is a lookup that returns undefined", () => {
    expect(traceFormatEntry("nonesuch")).toBeUndefined();
    expect(traceFormatEntry("constructor")).toBeUndefined();
    expect(traceFormatEntry("otlp")).toBe(TRACE_FORMAT_REGISTRY.otlp);
  });
});
