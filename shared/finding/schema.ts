// Schema of the SCC NotificationMessage (v1 and v2) as it arrives in Pub/Sub (proto3 JSON,
// camelCase). Only the fields the responder reads are described; every object is "loose"
// so fields SCC adds later pass through instead of failing the decode. Validation happens
// here, at the edge: everything inside works with the inferred, typed value.
import { z } from '../common/zod.js';

/** proto3 JSON renders int64 as a decimal string; some producers send numbers. */
const INTEGER = 'expected a non-negative integer';
// The same message on every branch: zod reports the branch closest to the input.
const integerLike = z.union(
  [z.string().regex(/^\d{1,19}$/, INTEGER), z.number().int(INTEGER).nonnegative(INTEGER)],
  { error: INTEGER },
);
const int64 = integerLike.transform((v) => Number(v));

/** Process ids arrive as strings (int64) or numbers; kept as a string. */
const pidLike = integerLike.transform((v) => String(v));

const nonEmpty = z.string().min(1, 'must not be empty');

/** RFC 3339 timestamp as proto3 JSON writes it (`2026-11-27T09:14:02.113Z`). */
const timestamp = z.iso.datetime({ offset: true, message: 'expected an RFC 3339 timestamp' });

/**
 * v1: `organizations/O/sources/S/findings/F`; v2 adds `/locations/L` before `/findings`.
 * The parent may be an organization, a folder or a project. Ids are restricted to the
 * characters SCC uses so a finding id can safely name files and objects.
 */
export const FINDING_NAME_PATTERN =
  /^(organizations|folders|projects)\/[A-Za-z0-9_.-]{1,128}\/sources\/[A-Za-z0-9_-]{1,128}(\/locations\/[A-Za-z0-9_-]{1,64})?\/findings\/[A-Za-z0-9_-]{1,128}$/;

const findingName = z
  .string()
  .min(1, 'must not be empty')
  .regex(FINDING_NAME_PATTERN, 'expected organizations|folders|projects/ID/sources/S[/locations/L]/findings/F');

const label = z.looseObject({ name: z.string(), value: z.string().optional().default('') });

const containerSchema = z.looseObject({
  name: z.string().optional(),
  uri: z.string().optional(),
  imageId: z.string().optional(),
  createTime: z.string().optional(),
  labels: z.array(label).optional(),
});

const fileSchema = z.looseObject({
  path: z.string().optional(),
  size: int64.optional(),
  sha256: z.string().optional(),
  hashedSize: int64.optional(),
  partiallyHashed: z.boolean().optional(),
});

const envVariable = z.looseObject({ name: z.string(), val: z.string().optional() });

const processSchema = z.looseObject({
  name: z.string().optional(),
  binary: fileSchema.optional(),
  script: fileSchema.optional(),
  libraries: z.array(fileSchema).optional(),
  args: z.array(z.string()).optional(),
  argumentsTruncated: z.boolean().optional(),
  envVariables: z.array(envVariable).optional(),
  envVariablesTruncated: z.boolean().optional(),
  pid: pidLike.optional(),
  parentPid: pidLike.optional(),
});

const podSchema = z.looseObject({
  ns: z.string().optional(),
  name: z.string().optional(),
  labels: z.array(label).optional(),
  containers: z.array(containerSchema).optional(),
});

const nodeSchema = z.looseObject({ name: z.string().optional() });

const kubernetesSchema = z.looseObject({
  pods: z.array(podSchema).optional(),
  nodes: z.array(nodeSchema).optional(),
  nodePools: z.array(z.looseObject({ name: z.string().optional(), nodes: z.array(nodeSchema).optional() })).optional(),
});

const mitreSchema = z.looseObject({
  primaryTactic: z.string().optional(),
  primaryTechniques: z.array(z.string()).optional(),
  additionalTactics: z.array(z.string()).optional(),
  additionalTechniques: z.array(z.string()).optional(),
  version: z.string().optional(),
});

export const findingSchema = z.looseObject({
  name: findingName,
  canonicalName: z.string().optional(),
  parent: z.string().optional(),
  resourceName: nonEmpty,
  state: nonEmpty,
  category: nonEmpty,
  externalUri: z.string().optional(),
  sourceProperties: z.record(z.string(), z.unknown()).optional(),
  securityMarks: z
    .looseObject({
      name: z.string().optional(),
      marks: z.record(z.string(), z.string()).optional(),
      canonicalName: z.string().optional(),
    })
    .optional(),
  eventTime: timestamp,
  createTime: timestamp.optional(),
  severity: z.string().optional(),
  findingClass: z.string().optional(),
  description: z.string().optional(),
  indicator: z
    .looseObject({
      uris: z.array(z.string()).optional(),
      ipAddresses: z.array(z.string()).optional(),
      domains: z.array(z.string()).optional(),
    })
    .optional(),
  mitreAttack: mitreSchema.optional(),
  processes: z.array(processSchema).optional(),
  containers: z.array(containerSchema).optional(),
  kubernetes: kubernetesSchema.optional(),
  parentDisplayName: z.string().optional(),
});

const resourceSchema = z.looseObject({
  name: z.string().optional(),
  displayName: z.string().optional(),
  type: z.string().optional(),
  project: z.string().optional(),
  projectDisplayName: z.string().optional(),
  parent: z.string().optional(),
  parentDisplayName: z.string().optional(),
  location: z.string().optional(),
  gcpMetadata: z
    .looseObject({
      project: z.string().optional(),
      projectDisplayName: z.string().optional(),
      parent: z.string().optional(),
      parentDisplayName: z.string().optional(),
    })
    .optional(),
});

/** The SCC NotificationMessage (v1 `securitycenter.v1.NotificationMessage` and v2). */
export const notificationMessageSchema = z.looseObject({
  notificationConfigName: z.string().optional(),
  finding: findingSchema,
  resource: resourceSchema.optional(),
});

export type NotificationMessage = z.output<typeof notificationMessageSchema>;
export type Finding = NotificationMessage['finding'];

/** The Pub/Sub message (push body `message`, pull `PubsubMessage`). */
export const pubsubMessageSchema = z.looseObject({
  data: z.string(),
  attributes: z.record(z.string(), z.string()).optional(),
  messageId: z.string().optional(),
  message_id: z.string().optional(),
  publishTime: z.string().optional(),
  publish_time: z.string().optional(),
  orderingKey: z.string().optional(),
});

export type PubsubMessage = z.output<typeof pubsubMessageSchema>;

export const PUBSUB_CLOUDEVENT_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished';
