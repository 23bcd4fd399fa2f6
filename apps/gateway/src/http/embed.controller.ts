import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { join } from 'node:path';
import type { GatewayConfig } from '../config.js';
import { GATEWAY_CONFIG } from '../tokens.js';

/** The embed SDK, as built by `npm run build`: the 3C/JS-PHONE script and the typed ESM API. */
@Controller('embed')
export class EmbedController {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  @Get('callgate.js')
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', 'no-cache')
  script(@Res() res: Response): void {
    this.send(res, 'callgate.js', 'text/javascript; charset=utf-8');
  }

  @Get('callgate.mjs')
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', 'no-cache')
  module(@Res() res: Response): void {
    this.send(res, 'callgate.mjs', 'text/javascript; charset=utf-8');
  }

  private send(res: Response, file: string, type: string): void {
    res.type(type);
    res.sendFile(join(this.config.embedDir, file), (err?: Error) => {
      if (err && !res.headersSent) {
        res.status(404).json({ code: 'NOT_FOUND', message: `${file} is not built: run npm run build` });
      }
    });
  }
}

/** How long a browser may keep a vendor no-op script or the built jQuery without asking again. */
const VENDOR_CACHE = 'public, max-age=86400';

/** What a vendor script callgate does not need answers: valid JavaScript that does nothing. */
const NO_OP_SCRIPT =
  '/* callgate: this vendor script is not needed; see README "Compatibility with the vendors" */\n';

/**
 * The 3C / VCC script paths (`/js/embed/<file>` on the vendor host), so a page written for the
 * vendor keeps its six `<script>` tags and only changes their host: `cs_voice.js` is the SDK,
 * `jquery.min.js` a maintained jQuery 3 with jQuery Migrate (built from npm by
 * `scripts/build-sdk.js`), the other four harmless, cacheable no-op scripts.
 */
@Controller('js/embed')
export class ThreeCScriptsController {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  @Get('cs_voice.js')
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', 'no-cache')
  sdk(@Res() res: Response): void {
    sendBuilt(res, this.config.embedDir, 'callgate.js');
  }

  @Get('jquery.min.js')
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', VENDOR_CACHE)
  jquery(@Res() res: Response): void {
    sendBuilt(res, this.config.embedDir, 'jquery.min.js');
  }

  @Get(['web.push.js', 'cs_const.js'])
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', VENDOR_CACHE)
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  noOp(): string {
    return NO_OP_SCRIPT;
  }

  /** `jssip-<any version>.js` and `init-<any version>.js`: no-ops (the SDK bundles its own JsSIP). */
  @Get(['jssip-:version.js', 'init-:version.js'])
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', VENDOR_CACHE)
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  versioned(): string {
    return NO_OP_SCRIPT;
  }
}

function sendBuilt(res: Response, dir: string, file: string): void {
  res.type('text/javascript; charset=utf-8');
  res.sendFile(join(dir, file), (err?: Error) => {
    if (err && !res.headersSent) {
      res.status(404).json({ code: 'NOT_FOUND', message: `${file} is not built: run npm run build` });
    }
  });
}
