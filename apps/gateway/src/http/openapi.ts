/**
 * The OpenAPI 3.1 document of the REST surface, served at /docs/openapi.json (and rendered at
 * /docs). Kept beside the controllers; the REST test checks every documented route answers.
 */
const errorBody = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string', example: 'INVALID_NUMBER' }, message: { type: 'string' } },
};

const errors = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      {
        description: 'refused',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );

const ok = (
  description: string,
  schema: Record<string, unknown> = { type: 'object' },
): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});

const domain = { name: 'domain', in: 'path', required: true, schema: { type: 'string' } };
const ipphone = {
  name: 'ipphone',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[0-9]+$' },
};
const callId = { name: 'callId', in: 'path', required: true, schema: { type: 'string' } };

const callAction = (summary: string, command: string): Record<string, unknown> => ({
  post: {
    summary,
    description: `Runs the \`${command}\` command for the agent's current call (the same as from a tab).`,
    parameters: [domain, ipphone, callId],
    responses: { '200': ok('done'), ...errors(401, 404, 409, 503) },
  },
});

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'callgate REST API',
    version: '1',
    description:
      'Call control for CRM backends. Authenticate with the domain API key: `Authorization: Bearer <apiKey>`. Every refusal is `{code, message}`.',
  },
  components: {
    securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: errorBody,
      Dial: {
        type: 'object',
        required: ['number'],
        properties: {
          number: { type: 'string', pattern: '^\\+?[0-9*#]{1,32}$' },
          transactionId: { type: 'string', description: 'echoed in the call’s events' },
          serviceId: {
            type: 'string',
            pattern: '^[A-Za-z0-9_-]{1,32}$',
            description: 'the callout service (hotline) the customer sees; the domain’s default when absent',
          },
        },
      },
    },
  },
  security: [{ apiKey: [] }],
  paths: {
    '/{domain}/thirdParty/login': {
      post: {
        summary:
          '3C login with the CRM’s HS256 JWT (JSON, form-urlencoded or multipart); refusals are {code: "errors", error, message}',
        security: [],
        parameters: [domain],
        requestBody: {
          content: {
            'application/json': { schema: { type: 'object', properties: { token: { type: 'string' } } } },
          },
        },
        responses: { '200': ok('session token'), ...errors(400, 401, 404, 413) },
      },
    },
    '/v1/{domain}/agents': {
      get: {
        summary: 'The domain’s agents with presence and call status',
        parameters: [domain],
        responses: { '200': ok('agents'), ...errors(401, 404) },
      },
    },
    '/v1/{domain}/events': {
      get: {
        summary: 'The domain’s events after an id, from its log (`gap`: resync)',
        parameters: [
          domain,
          { name: 'after', in: 'query', required: false, schema: { type: 'string', example: '0-0' } },
        ],
        responses: { '200': ok('{events, gap}'), ...errors(401, 404) },
      },
    },
    '/v1/{domain}/agents/{ipphone}': {
      get: {
        summary: 'One agent: state, device, voice holder, current call',
        parameters: [domain, ipphone],
        responses: { '200': ok('agent'), ...errors(401, 404) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/call': {
      get: {
        summary: 'The agent’s current call',
        parameters: [domain, ipphone],
        responses: { '200': ok('call'), ...errors(401, 404, 409) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/calls': {
      post: {
        summary: 'Dial a customer for the agent (call.dial)',
        parameters: [domain, ipphone],
        requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Dial' } } } },
        responses: { '201': ok('callId'), ...errors(400, 401, 403, 404, 409, 413, 502, 503) },
      },
    },
    '/v1/{domain}/calls': {
      post: {
        summary: 'JS-PHONE click-to-call: {phoneNumber, ipPhone, transactionId}',
        parameters: [domain],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['phoneNumber', 'ipPhone'],
                properties: {
                  phoneNumber: { type: 'string' },
                  ipPhone: { type: 'string' },
                  transactionId: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '201': ok('callId'), ...errors(400, 401, 403, 404, 409, 413, 502, 503) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/calls/{callId}/answer': callAction('Answer a ringing call', 'call.answer'),
    '/v1/{domain}/agents/{ipphone}/calls/{callId}/hangup': callAction('Hang up', 'call.hangup'),
    '/v1/{domain}/agents/{ipphone}/calls/{callId}/hold': callAction(
      'Hold / unhold (toggles)',
      'call.toggleHold',
    ),
    '/v1/{domain}/agents/{ipphone}/calls/{callId}/mute': callAction(
      'Mute / unmute (toggles)',
      'call.toggleMute',
    ),
    '/v1/{domain}/agents/{ipphone}/calls/{callId}/dtmf': {
      post: {
        summary: 'Send DTMF digits to the customer (SIP INFO)',
        parameters: [domain, ipphone, callId],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['digits'],
                properties: { digits: { type: 'string', pattern: '^[0-9*#A-D]{1,32}$' } },
              },
            },
          },
        },
        responses: { '200': ok('sent'), ...errors(400, 401, 404, 409) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/calls/{callId}/transfer/agent': {
      post: {
        summary: 'Ask another agent to take the call (transfer.toAgent, 3C csTransferCallAgent)',
        description:
          'Answers once the target’s tabs got `transfer.request`; the outcome follows as events: `transfer.response`, then `transfer.succeeded` or `transfer.failed {error, reason}`. A target that is offline, busy, Off or unreachable answers 502 `TRANSFER_CALL_FAILED` (and `transfer.failed` says why).',
        parameters: [domain, ipphone, callId],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['ipphone'],
                properties: { ipphone: { type: 'string', pattern: '^[0-9]{1,16}$' } },
              },
            },
          },
        },
        responses: {
          '200': ok('{ok, callId, transferId}'),
          ...errors(400, 401, 404, 409, 502, 503),
        },
      },
    },
    '/v1/{domain}/agents/{ipphone}/calls/{callId}/transfer/queue': {
      post: {
        summary: 'Send the call to an ACD queue of the domain (transfer.toQueue, 3C csTransferCallAcd)',
        description:
          'Answers once the move started; `transfer.succeeded {queueId}` or `transfer.failed` follows. An unknown queue answers 502 `TRANSFER_CALL_FAILED` (`reason: UNKNOWN_QUEUE`).',
        parameters: [domain, ipphone, callId],
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', required: ['queueId'], properties: { queueId: { type: 'string' } } },
            },
          },
        },
        responses: {
          '200': ok('{ok, callId, transferId}'),
          ...errors(400, 401, 404, 409, 502, 503),
        },
      },
    },
    '/v1/{domain}/agents/{ipphone}/transfer/respond': {
      post: {
        summary:
          'The target agent accepts or refuses its pending transfer request (3C responseTransferAgent)',
        parameters: [domain, ipphone],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['accept'],
                properties: {
                  accept: { type: 'boolean' },
                  transferId: { type: 'string', description: 'the request’s id; default: the one pending' },
                },
              },
            },
          },
        },
        responses: { '200': ok('{ok, callId, transferId}'), ...errors(400, 401, 404) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/status': {
      post: {
        summary: 'Toggle the agent’s call status On/Off',
        parameters: [domain, ipphone],
        responses: { '200': ok('status'), ...errors(401, 404) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/device': {
      post: {
        summary: 'Set the agent’s device {type: 1-4 or 6, mobile?}',
        parameters: [domain, ipphone],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['type'],
                properties: { type: { type: 'integer', enum: [1, 2, 3, 4, 6] }, mobile: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': ok('device'), ...errors(400, 401, 404, 409) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/device/reset': {
      post: {
        summary: 'Back to the agent’s default device',
        parameters: [domain, ipphone],
        responses: { '200': ok('device'), ...errors(401, 404) },
      },
    },
    '/v1/{domain}/agents/{ipphone}/logout': {
      post: {
        summary: 'Log the agent out everywhere (session.logout)',
        description:
          'Every session and CRM login of the agent issued until now is refused from now on, on every instance; its open tabs receive `session.error {code: SESSION_EXPIRED}` and are closed. The CRM signs a new token to log in again.',
        parameters: [domain, ipphone],
        responses: { '200': ok('{ok: true}'), ...errors(401, 404, 503) },
      },
    },
    '/health': { get: { summary: 'The process answers', security: [], responses: { '200': ok('alive') } } },
    '/ready': {
      get: {
        summary: 'Config loaded and coordination store reachable',
        security: [],
        responses: { '200': ok('ready'), ...errors(503) },
      },
    },
    '/alohub/{domain}/makeCall': {
      post: {
        summary:
          "Alohub JS-PHONE make call (call.dial): header `Authorization: <apiKey>` (raw); always 200, {success: '1', callId, transactionId} or {success: '0', error_code, error_message}",
        parameters: [domain],
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['phoneNumber', 'ipPhone'],
                properties: {
                  phoneNumber: { type: 'string' },
                  ipPhone: { type: 'string' },
                  transactionId: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '200': ok("success '1' or '0'") },
      },
    },
    '/alohub/{domain}/login': {
      post: {
        summary:
          "The JS-PHONE widget's sign-in with the extension and SIP password; {success: '1', token, ...} (a session token for /agent) or {success: '0', error_code, error_message}",
        parameters: [domain],
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['password'],
                properties: {
                  impi: { type: 'string' },
                  impu: { type: 'string' },
                  password: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '200': ok("success '1' or '0'") },
      },
    },
    '/v1/{domain}/webhooks/failures': {
      get: {
        summary: 'Webhook deliveries given up after their last attempt (dead letters), newest first',
        parameters: [
          domain,
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        ],
        responses: {
          '200': ok('{failures}', {
            type: 'object',
            required: ['failures'],
            properties: {
              failures: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['url', 'eventId', 'eventType', 'attempts', 'error', 'failedAt', 'event'],
                  properties: {
                    url: { type: 'string' },
                    eventId: { type: 'string' },
                    eventType: { type: 'string' },
                    attempts: { type: 'integer' },
                    error: { type: 'string' },
                    failedAt: { type: 'string' },
                    event: { type: 'object' },
                  },
                },
              },
            },
          }),
          ...errors(400, 401, 404),
        },
      },
    },
  },
} as const;
