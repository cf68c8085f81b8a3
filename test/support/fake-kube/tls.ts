// A throwaway CA and a server certificate for 127.0.0.1/localhost, generated once per test
// process (key generation costs tens of milliseconds) with the `selfsigned` package, so the
// client must verify the server against the CA we hand it, like GKE's clusterCaCertificate.
import selfsigned from 'selfsigned';

export interface FakeTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

let cached: Promise<FakeTls> | undefined;

async function generate(): Promise<FakeTls> {
  const notBeforeDate = new Date(Date.now() - 60 * 60 * 1000);
  const notAfterDate = new Date(Date.now() + 7 * 24 * 60 * 60 * 1000);
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'fake-kube test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await selfsigned.generate([{ name: 'commonName', value: 'kube-apiserver' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { caPem: ca.cert, certPem: server.cert, keyPem: server.private };
}

export function fakeTls(): Promise<FakeTls> {
  cached ??= generate();
  return cached;
}
