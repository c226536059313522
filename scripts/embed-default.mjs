// Regenerates src/scenarios-embedded.ts from scenarios/default.yaml (run by `npm run embed`; a test checks they match).
import { readFileSync, writeFileSync } from "node:fs";

const yaml = readFileSync(new URL("../scenarios/default.yaml", import.meta.url), "utf8");
const out = `// Generated from scenarios/default.yaml by scripts/embed-default.mjs — do not edit; run \`npm run embed\`.
/** The default scenario, embedded so that \`gatelab\` works with no file at hand. */
export const DEFAULT_SCENARIO_YAML: string = ${JSON.stringify(yaml)};
`;
writeFileSync(new URL("../src/scenarios-embedded.ts", import.meta.url), out);
