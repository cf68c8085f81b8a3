// `npm start`: the Cloud Function on this machine, with local defaults (kubeconfig access,
// evidence under ./.evidence, no SCC marks, no Cloud Logging queries, no metadata server).
// POST a Pub/Sub CloudEvent to http://127.0.0.1:8080/ (PORT and HOST change it; see README).
//
// One process (run with `--import tsx`): the function is served through the Functions
// Framework's own server for the registered function, behind a small front that answers
// GET/HEAD with a health line and other methods with 405 (the framework would hand a GET to
// the CloudEvent middleware and answer 500 with a stack trace). SIGTERM and SIGINT close the
// server and exit, so the port is free at once; `npm start` execs this process, so npm's
// SIGTERM reaches it (the sh that npm runs scripts with does not forward signals).
// It listens on loopback unless HOST says otherwise: the function acts with your kubeconfig.
import { createServer } from 'node:http';
import { setTimeout } from 'node:timers';

const defaults = {
  SCC_RESPONDER_CLUSTER_ACCESS: 'kubeconfig',
  SCC_RESPONDER_EVIDENCE: '.evidence',
  SCC_RESPONDER_MARKS: 'false',
  SCC_RESPONDER_LOGS: 'false',
};
for (const [key, value] of Object.entries(defaults)) process.env[key] ??= value;
process.env.METADATA_SERVER_DETECTION = 'none';

const port = Number(process.env.PORT ?? '8080');
const host = process.env.HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`start-local: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const { FUNCTION_NAME } = await import('../functions/scc-responder/index.ts');
const { getTestServer } = await import('@google-cloud/functions-framework/testing');
const [functionListener] = getTestServer(FUNCTION_NAME).listeners('request');

const server = createServer((req, res) => {
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : 'scc-responder: ok (POST a Pub/Sub CloudEvent to this URL)\n');
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'GET, HEAD, POST', 'content-type': 'text/plain; charset=utf-8' });
    res.end(`scc-responder: ${req.method} not allowed: POST a Pub/Sub CloudEvent\n`);
    return;
  }
  functionListener.call(server, req, res);
});

server.on('error', (err) => {
  console.error(`start-local: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const address = server.address();
  const shown = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : `${host}:${port}`;
  console.log(`scc-responder: listening on http://${shown}/ (POST a Pub/Sub CloudEvent; GET answers a health line)`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    // Deliveries still running are abandoned: Pub/Sub would redeliver them.
    setTimeout(() => process.exit(0), 2_000).unref();
  });
}
