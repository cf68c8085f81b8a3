// CI pre-flight for the tests that use Google's Pub/Sub emulator as a real peer
// (test/e2e/pubsub-emulator.test.ts, test/integration/record-publisher.test.ts): the
// emulator and Java come with the machine image, not from npm. If the image lacks either,
// say so here, plainly, instead of skipping those tests. Finding them is all this does;
// the tests start and stop the emulator themselves.
import { spawnSync } from 'node:child_process';
import { locateEmulator } from '../test/support/pubsub-emulator.js';

try {
  const { launcher, java } = locateEmulator();
  const version = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`Java at ${java} does not run (java -version exited ${version.status}): ${version.stderr}`);
  console.log(`pubsub emulator: ${launcher}\njava: ${java} (${version.stderr.split('\n')[0]?.trim()})`);
} catch (err) {
  console.error(`CI: the Pub/Sub emulator tests cannot run on this image: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
