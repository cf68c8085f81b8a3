// Notification secrets from Secret Manager (NotifySecrets port): the latest version of
// `projects/<project>/secrets/<name>`, read with @google-cloud/secret-manager on first use
// (after containment: notifications run in the record stage) and kept in memory for a few
// minutes so a burst of findings reads each secret once. Errors name the secret, never a value.
import type * as SecretManager from '@google-cloud/secret-manager';
import { cjsExports } from '../common/cjs.js';
import { ResponderError } from '../common/errors.js';
import { classifyGaxError } from '../common/gax-errors.js';
import { raceAbort } from '../common/time.js';
import type { NotifySecrets } from '../ports.js';

type Client = InstanceType<typeof SecretManager.v1.SecretManagerServiceClient>;
export type SecretManagerClientOptions = NonNullable<ConstructorParameters<typeof SecretManager.v1.SecretManagerServiceClient>[0]>;

export interface SecretManagerSecretsOptions {
  /** Project holding the secrets (id or number). */
  project: string;
  clientOptions?: SecretManagerClientOptions;
  /** Per-call deadline. Default 10 s. */
  timeoutMs?: number;
  /** How long a value is reused. Default 5 minutes (a rotated webhook is picked up after that). */
  cacheMs?: number;
}

export interface SecretManagerSecrets extends NotifySecrets {
  close(): Promise<void>;
}

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;

export function createSecretManagerSecrets(options: SecretManagerSecretsOptions): SecretManagerSecrets {
  let client: Promise<Client> | undefined;
  const cache = new Map<string, { value: string; until: number }>();
  const ttl = options.cacheMs ?? 5 * 60_000;
  const clientOf = (): Promise<Client> =>
    (client ??= import('@google-cloud/secret-manager').then(cjsExports).then((m) => new m.v1.SecretManagerServiceClient(options.clientOptions)));

  return {
    async read(name, signal) {
      if (!SECRET_ID.test(name)) throw new ResponderError(`invalid secret name ${JSON.stringify(name.slice(0, 100))}`, 'permanent', { code: 'BAD_SECRET_NAME' });
      const hit = cache.get(name);
      if (hit && hit.until > Date.now()) return hit.value;
      const version = `projects/${options.project}/secrets/${name}/versions/latest`;
      try {
        const c = await clientOf();
        const [res] = await raceAbort(c.accessSecretVersion({ name: version }, { timeout: options.timeoutMs ?? 10_000, maxRetries: 0 }), signal, 'secret read aborted');
        const data = res.payload?.data;
        const value = typeof data === 'string' ? data : data ? Buffer.from(data).toString('utf8') : '';
        if (value.trim() === '') throw new ResponderError(`secret ${version} is empty`, 'permanent', { code: 'EMPTY_SECRET' });
        cache.set(name, { value, until: Date.now() + ttl });
        return value;
      } catch (err) {
        if (err instanceof ResponderError) throw err;
        const c = classifyGaxError(err);
        throw new ResponderError(`Secret Manager AccessSecretVersion on ${version} failed: ${c.reason}`, c.kind, { ...(c.code === undefined ? {} : { code: c.code }), cause: err });
      }
    },
    async close() {
      if (client) await (await client).close();
    },
  };
}
