// Checks a REST answer against the OpenAPI document the gateway serves: the route and method are
// documented, the status is one of the operation's responses, and the JSON body validates against
// that response's schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). Paths the document does not
// describe (an unknown route) are not checked here.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { OPENAPI_DOCUMENT } from '../../apps/gateway/src/http/openapi.js';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new Map<string, ValidateFunction>();
const routes = Object.entries(OPENAPI_DOCUMENT.paths as Record<string, Record<string, Operation>>).map(
  ([template, operations]) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    operations,
  }),
);

/** Throws, naming the route, when the answer does not match the document. */
export function checkAgainstOpenApi(method: string, url: string, status: number, body: unknown): void {
  const path = url.split('?')[0] ?? url;
  const route = routes.find((r) => r.pattern.test(path));
  if (!route) return;
  const name = `${method.toUpperCase()} ${route.template}`;
  const operation = route.operations[method.toLowerCase()];
  if (!operation) throw new Error(`${name}: the method is not documented`);
  const response = operation.responses[String(status)] ?? operation.responses.default;
  if (!response)
    throw new Error(`${name}: status ${status} is not documented (body ${JSON.stringify(body)})`);
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return;
  const key = `${name} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile({ ...schema, components: OPENAPI_DOCUMENT.components });
    compiled.set(key, validate);
  }
  if (!validate(body)) {
    throw new Error(`${name} ${status}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body)}`);
  }
}
