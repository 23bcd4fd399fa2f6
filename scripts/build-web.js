// Bundles the demo CRM's page scripts (TypeScript) for the browser.
import { build } from 'esbuild';

await build({
  entryPoints: { desk: 'apps/demo-crm/web/desk.ts', jsphone: 'apps/demo-crm/web/jsphone.ts' },
  outdir: 'dist/demo-crm',
  bundle: true,
  format: 'iife',
  target: 'es2020',
  sourcemap: true,
  logLevel: 'warning',
});
