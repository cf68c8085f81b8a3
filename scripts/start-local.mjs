// `npm start`: the Cloud Function on this machine, with local defaults (kubeconfig access,
// evidence under ./.evidence, no SCC marks, no Cloud Logging queries, no metadata server).
// Post a CloudEvent to http://localhost:8080/ (see test/fixtures/cloudevent.*.json).
import { spawn } from 'node:child_process';

const env = {
  SCC_RESPONDER_CLUSTER_ACCESS: 'kubeconfig',
  SCC_RESPONDER_EVIDENCE: '.evidence',
  SCC_RESPONDER_MARKS: 'false',
  SCC_RESPONDER_LOGS: 'false',
  ...process.env,
  METADATA_SERVER_DETECTION: 'none',
};
const port = process.env.PORT ?? '8080';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'node_modules/@google-cloud/functions-framework/build/src/main.js', '--target=sccResponder', '--signature-type=cloudevent', `--port=${port}`, '--source=functions/scc-responder/index.ts'],
  { stdio: 'inherit', env },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
