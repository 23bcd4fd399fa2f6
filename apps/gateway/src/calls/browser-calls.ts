import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { BrowserCalls, type BrowserCallsDeps } from '@callgate/calls';

/** libs/calls' browser-mode call books as a Nest provider: its ring timers stop with the app. */
export class NestBrowserCalls extends BrowserCalls implements OnApplicationShutdown {
  constructor(deps: Omit<BrowserCallsDeps, 'logger'>) {
    super({ ...deps, logger: new Logger(BrowserCalls.name) });
  }

  onApplicationShutdown(): void {
    this.close();
  }
}
