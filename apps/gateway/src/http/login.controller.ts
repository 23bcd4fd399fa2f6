import { Body, Controller, HttpCode, Param, Post, Req, UseInterceptors } from '@nestjs/common';
import type { Request } from 'express';
import type { LoginResponse } from '@callgate/contracts';
import { SessionService } from '../session/session.service.js';
import { Quotas } from '../security/quotas.js';
import { FormFieldsInterceptor } from './form-fields.interceptor.js';

/** 3C-compatible login: the CRM posts the agent's HS256 JWT as JSON, form-urlencoded or multipart. */
@Controller()
export class LoginController {
  constructor(
    private readonly sessions: SessionService,
    private readonly quotas: Quotas,
  ) {}

  @Post(':domain/thirdParty/login')
  @HttpCode(200)
  @UseInterceptors(FormFieldsInterceptor)
  async login(
    @Param('domain') domain: string,
    @Body() body: unknown,
    @Req() req: Request,
  ): Promise<LoginResponse> {
    await this.quotas.login(domain, req.ip ?? req.socket.remoteAddress ?? 'unknown');
    const token =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>).token : undefined;
    return this.sessions.login(domain, token);
  }
}
