// The OpenAPI document checked by a validator no one here wrote (@apidevtools/swagger-parser:
// the OpenAPI 3.1 schema, then $refs resolved), and the response checker the REST tests use.
// swagger-parser (CommonJS) requires an ESM-only package, which jest's module loader cannot do;
// Node itself can, so the validator runs in a child node process.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../apps/gateway/src/config.js';
import { OPENAPI_DOCUMENT } from '../apps/gateway/src/http/openapi.js';
import { checkAgainstOpenApi } from './support/openapi.js';

const VALIDATE = `
const { default: SwaggerParser } = await import('@apidevtools/swagger-parser');
try {
  const api = await SwaggerParser.validate(process.argv[1]);
  console.log('valid: ' + api.info.title);
} catch (err) {
  console.log('invalid: ' + err.message);
  process.exitCode = 1;
}`;

async function validate(document: unknown): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'callgate-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    const run = promisify(execFile)(process.execPath, ['--input-type=module', '-e', VALIDATE, file], {
      cwd: projectRoot(),
    });
    return (await run.catch((err: { stdout: string }) => err)).stdout.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for @apidevtools/swagger-parser', async () => {
    expect(await validate(OPENAPI_DOCUMENT)).toBe('valid: callgate REST API');
  });

  it('and the validator does refuse a broken document (a $ref to nothing)', async () => {
    const broken = structuredClone(OPENAPI_DOCUMENT) as unknown as {
      components: { schemas: Record<string, unknown> };
    };
    delete broken.components.schemas.Error;
    expect(await validate(broken)).toMatch(/^invalid: .*Error/);
  });

  it('the response checker refuses an undocumented status and a body that breaks its schema', () => {
    expect(() => checkAgainstOpenApi('GET', '/v1/demo/agents', 418, {})).toThrow(
      /status 418 is not documented/,
    );
    expect(() => checkAgainstOpenApi('GET', '/v1/demo/agents', 401, { code: 'UNAUTHORIZED' })).toThrow(
      /must have required property 'message'/,
    );
    expect(() =>
      checkAgainstOpenApi('GET', '/v1/demo/agents', 401, { code: 'UNAUTHORIZED', message: 'no key' }),
    ).not.toThrow();
  });
});
