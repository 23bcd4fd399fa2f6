import { Body, Controller, HttpCode, Param, Post, UseInterceptors } from '@nestjs/common';
import type { LoginResponse } from '@callgate/contracts';
import { SessionService } from '../session/session.service.js';
import { FormFieldsInterceptor } from './form-fields.interceptor.js';

/** 3C-compatible login: the CRM posts the agent's HS256 JWT as JSON, form-urlencoded or multipart. */
@Controller()
export class LoginController {
  constructor(private readonly sessions: SessionService) {}

  @Post(':domain/thirdParty/login')
  @HttpCode(200)
  @UseInterceptors(FormFieldsInterceptor)
  login(@Param('domain') domain: string, @Body() body: unknown): Promise<LoginResponse> {
    const token =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>).token : undefined;
    return this.sessions.login(domain, token);
  }
}
