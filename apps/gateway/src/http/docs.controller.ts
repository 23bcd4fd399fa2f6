import { Controller, Get, Header } from '@nestjs/common';
import { OPENAPI_DOCUMENT } from './openapi.js';

const escape = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

/** `/docs`: the REST API, readable without any external asset; `/docs/openapi.json`: the document. */
@Controller('docs')
export class DocsController {
  @Get('openapi.json')
  document(): typeof OPENAPI_DOCUMENT {
    return OPENAPI_DOCUMENT;
  }

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  page(): string {
    const rows = Object.entries(OPENAPI_DOCUMENT.paths).flatMap(([path, methods]) =>
      Object.entries(methods as Record<string, { summary: string; responses: Record<string, unknown> }>).map(
        ([method, op]) =>
          `<tr><td><b>${method.toUpperCase()}</b></td><td><code>${escape(path)}</code></td><td>${escape(op.summary)}</td><td>${Object.keys(op.responses).join(', ')}</td></tr>`,
      ),
    );
    return `<!doctype html><html><head><meta charset="utf-8"><title>${OPENAPI_DOCUMENT.info.title}</title>
<style>body{font-family:system-ui,sans-serif;margin:32px;color:#1d2433}table{border-collapse:collapse}td{border-bottom:1px solid #e3e7ef;padding:6px 12px;vertical-align:top}code{background:#eef1f7;padding:1px 4px;border-radius:4px}</style>
</head><body><h1>${OPENAPI_DOCUMENT.info.title}</h1><p>${escape(OPENAPI_DOCUMENT.info.description)}</p>
<p>Machine-readable: <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI ${OPENAPI_DOCUMENT.openapi}).</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>statuses</th></tr>${rows.join('')}</table></body></html>`;
  }
}
