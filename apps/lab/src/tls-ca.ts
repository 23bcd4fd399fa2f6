import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A private CA and a server certificate signed by it, as PEM files in a folder. */
export interface LabCertificates {
  /** The CA's certificate: what a client trusts (the gateway's `pbx.tls.caFile`). */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The name the server certificate is issued to (also valid: 127.0.0.1 and localhost). */
  readonly serverName: string;
}

/**
 * Generates, with the openssl CLI, a private CA (EC P-256, one day) and a server certificate
 * for `serverName`, `localhost` and 127.0.0.1 signed by it, into `dir`. Rejects with openssl's
 * stderr when openssl is missing or fails.
 */
export function makeLabCertificates(
  dir: string,
  serverName = 'pbx.callgate.lab',
  caName = 'callgate lab CA',
): LabCertificates {
  const file = (name: string): string => join(dir, name);
  const ext = file('server.ext');
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=DNS:${serverName},DNS:localhost,IP:127.0.0.1`,
      '',
    ].join('\n'),
  );
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  };
  try {
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key'));
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      file('ca.key'),
      '-sha256',
      '-days',
      '1',
      '-subj',
      `/CN=${caName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      file('ca.pem'),
    );
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('server.key'));
    openssl(
      'req',
      '-new',
      '-key',
      file('server.key'),
      '-subj',
      `/CN=${serverName}`,
      '-out',
      file('server.csr'),
    );
    openssl(
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      file('server.pem'),
    );
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(
      `openssl failed to make the lab certificates: ${typeof stderr === 'string' && stderr ? stderr : String(error)}`,
      { cause: error },
    );
  }
  return { caFile: file('ca.pem'), certFile: file('server.pem'), keyFile: file('server.key'), serverName };
}

/** Kamailio's tls module configuration for a server certificate (clients are not asked for one). */
export function kamailioTlsConfig(certs: LabCertificates): string {
  return [
    '[server:default]',
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    `private_key = ${certs.keyFile}`,
    `certificate = ${certs.certFile}`,
    '',
    '[client:default]',
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    '',
  ].join('\n');
}
