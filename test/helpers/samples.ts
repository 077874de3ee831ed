import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const samplesDir = path.join(repoRoot, 'config/samples');

export interface SampleDoc {
  file: string;
  object: { apiVersion: string; kind: string; metadata: { name: string }; spec?: unknown };
}

/** Every YAML document under config/samples, parsed. */
export function loadSamples(): SampleDoc[] {
  return readdirSync(samplesDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(path.join(samplesDir, file), 'utf8')).map((doc) => {
        if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
        return { file, object: doc.toJS() as SampleDoc['object'] };
      }),
    );
}

/** The sample object of one kind, as a fresh deep copy a test may mutate. */
export function sampleOf(kind: string): SampleDoc['object'] & { spec: Record<string, unknown> } {
  const found = loadSamples().find((s) => s.object.kind === kind);
  if (!found) throw new Error(`no sample of kind ${kind}`);
  return structuredClone(found.object) as SampleDoc['object'] & { spec: Record<string, unknown> };
}
