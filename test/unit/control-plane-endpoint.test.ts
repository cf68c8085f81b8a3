import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pickControlPlaneEndpoint } from '../../shared/gcp/control-plane-endpoint.js';
import { clusterInfoFromGke } from '../../shared/gcp/gke-cluster-directory.js';
import type { ClusterRef } from '../../shared/finding/types.js';

const DNS = 'gke-0123456789abcdef.us-central1.gke.goog';
const ref: ClusterRef = { project: 'p', location: 'us-central1', locationKind: 'region', name: 'c', resourceName: '//container.googleapis.com/projects/p/locations/us-central1/clusters/c' };

test('a public cluster: the public IP endpoint, CA pinned', () => {
  assert.deepEqual(pickControlPlaneEndpoint({ endpoint: '203.0.113.7' }), { kind: 'public-ip', host: '203.0.113.7', pinClusterCa: true, reason: 'public IP endpoint' });
  // The DNS endpoint always exists, but without external traffic it is not ours to use.
  const withDns = pickControlPlaneEndpoint({ endpoint: '203.0.113.7', controlPlaneEndpointsConfig: { dnsEndpointConfig: { endpoint: DNS, allowExternalTraffic: false } } });
  assert.equal(withDns?.kind, 'public-ip');
});

test('the DNS-based endpoint with external traffic allowed wins, public or private, and is not CA-pinned', () => {
  for (const cluster of [
    { endpoint: '203.0.113.7', controlPlaneEndpointsConfig: { dnsEndpointConfig: { endpoint: DNS, allowExternalTraffic: true } } },
    {
      endpoint: '10.0.0.2',
      privateClusterConfig: { enablePrivateEndpoint: true, privateEndpoint: '10.0.0.2' },
      controlPlaneEndpointsConfig: { dnsEndpointConfig: { endpoint: DNS, allowExternalTraffic: true }, ipEndpointsConfig: { enabled: false } },
    },
  ]) {
    const picked = pickControlPlaneEndpoint(cluster);
    assert.equal(picked?.kind, 'dns');
    assert.equal(picked?.host, DNS);
    assert.equal(picked?.pinClusterCa, false);
  }
});

test('a private cluster without external DNS traffic: the private IP, which needs VPC egress', () => {
  const legacy = pickControlPlaneEndpoint({ endpoint: '10.0.0.2', privateClusterConfig: { enablePrivateEndpoint: true, privateEndpoint: '10.0.0.2' } });
  assert.equal(legacy?.kind, 'private-ip');
  assert.equal(legacy?.host, '10.0.0.2');
  assert.match(legacy?.reason ?? '', /vpc_connector/);
  const modern = pickControlPlaneEndpoint({
    endpoint: '10.0.0.3',
    controlPlaneEndpointsConfig: { ipEndpointsConfig: { enabled: true, enablePublicEndpoint: false, privateEndpoint: '10.0.0.3' }, dnsEndpointConfig: { endpoint: DNS } },
  });
  assert.equal(modern?.kind, 'private-ip');
  assert.equal(modern?.host, '10.0.0.3');
  // The public address of a cluster that turned its public endpoint off is never used.
  const off = pickControlPlaneEndpoint({ endpoint: '203.0.113.7', controlPlaneEndpointsConfig: { ipEndpointsConfig: { enablePublicEndpoint: false, publicEndpoint: '203.0.113.7', privateEndpoint: '10.0.0.3' } } });
  assert.equal(off?.kind, 'private-ip');
});

test('no reachable endpoint: IP access off and no external DNS traffic, or an empty answer', () => {
  assert.equal(pickControlPlaneEndpoint({ endpoint: '10.0.0.2', controlPlaneEndpointsConfig: { ipEndpointsConfig: { enabled: false }, dnsEndpointConfig: { endpoint: DNS, allowExternalTraffic: false } } }), undefined);
  assert.equal(pickControlPlaneEndpoint({}), undefined);
});

test('the cluster directory reports the endpoint it picked, and drops the CA pin for DNS', () => {
  const ca = Buffer.from('pem').toString('base64');
  const dns = clusterInfoFromGke(ref, { endpoint: '203.0.113.7', masterAuth: { clusterCaCertificate: ca }, controlPlaneEndpointsConfig: { dnsEndpointConfig: { endpoint: DNS, allowExternalTraffic: true } } });
  assert.equal(dns.endpoint, DNS);
  assert.equal(dns.controlPlaneEndpoint, 'dns');
  assert.equal(dns.caCertificate, undefined);
  const ip = clusterInfoFromGke(ref, { endpoint: '203.0.113.7', masterAuth: { clusterCaCertificate: ca } });
  assert.equal(ip.endpoint, '203.0.113.7');
  assert.equal(ip.controlPlaneEndpoint, 'public-ip');
  assert.equal(ip.caCertificate, ca);
  const none = clusterInfoFromGke(ref, { endpoint: '', masterAuth: { clusterCaCertificate: ca } });
  assert.equal(none.endpoint, '');
  assert.equal(none.controlPlaneEndpoint, undefined);
});
