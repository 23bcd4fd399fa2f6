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
