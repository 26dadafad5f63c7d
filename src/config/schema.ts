/**
 * JSON schemas shared by the config file and the admin API, so a field means the same thing in both.
 * Validation never coerces types and never strips unknown fields: it rejects, naming the field.
 */

export const HOST_PORT_PATTERN = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$';
const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export const startPositionSchema = {
  oneOf: [
    { type: 'string', enum: ['current', 'earliest'] },
    {
      type: 'object',
      required: ['gtid'],
      additionalProperties: false,
      properties: { gtid: { type: 'string', maxLength: 1_000_000 } },
    },
    {
      type: 'object',
      required: ['file', 'pos'],
      additionalProperties: false,
      properties: {
        file: { type: 'string', minLength: 1, maxLength: 512, pattern: '^[^/\\\\\\u0000]+$' },
        pos: { type: 'integer', minimum: 4, maximum: 18446744073709551615 },
      },
    },
  ],
} as const;

export const tlsClientSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['disabled', 'preferred', 'required'] },
    verify: { type: 'boolean' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    servername: { type: 'string' },
  },
} as const;

/** Body of PUT /binlog/syncer/start, and the `syncer` section of the config file. */
export const syncerArgsSchema = {
  type: 'object',
  required: ['mysql_addr', 'mysql_user', 'mysql_password', 'syncer_id'],
  additionalProperties: false,
  properties: {
    mysql_addr: { type: 'string', pattern: HOST_PORT_PATTERN, maxLength: 300 },
    mysql_user: { type: 'string', minLength: 1, maxLength: 128 },
    mysql_password: { type: 'string', maxLength: 1024 },
    syncer_id: { type: 'integer', minimum: 1, maximum: 4294967295 },
    syncer_uuid: { type: 'string', pattern: UUID_PATTERN },
    semi_sync: { type: 'boolean' },
    start: startPositionSchema,
    heartbeat_period_ms: { type: 'integer', minimum: 0, maximum: 4_294_967_000 },
    tls: tlsClientSchema,
    server_public_key: { type: 'string', maxLength: 16_384 },
  },
} as const;

const userSchema = {
  type: 'object',
  required: ['user', 'password'],
  additionalProperties: false,
  properties: {
    user: { type: 'string', minLength: 1, maxLength: 128 },
    password: { type: 'string', maxLength: 1024 },
  },
} as const;

/** Body of PUT /binlog/server/start (kingbus form: addr/user/password, plus an optional users list). */
export const serverArgsSchema = {
  type: 'object',
  required: ['addr'],
  additionalProperties: false,
  properties: {
    addr: { type: 'string', pattern: HOST_PORT_PATTERN, maxLength: 300 },
    user: { type: 'string', minLength: 1, maxLength: 128 },
    password: { type: 'string', maxLength: 1024 },
    users: { type: 'array', items: userSchema, maxItems: 1000 },
    allow_empty_password: { type: 'boolean' },
  },
} as const;

/** The `server` section of the config file (listen/users naming, plus TLS and identity). */
export const serverConfigSchema = {
  type: 'object',
  required: ['listen'],
  additionalProperties: false,
  properties: {
    listen: { type: 'string', pattern: HOST_PORT_PATTERN, maxLength: 300 },
    users: { type: 'array', items: userSchema, maxItems: 1000 },
    allow_empty_password: { type: 'boolean' },
    server_id: { type: 'integer', minimum: 1, maximum: 4294967295 },
    server_uuid: { type: 'string', pattern: UUID_PATTERN },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: { cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' } },
    },
    passthrough: { type: 'boolean' },
  },
} as const;

const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d|w)$';
const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|k|K|M|G|T)?$';

export const configFileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: {
        listen: { type: 'string', pattern: HOST_PORT_PATTERN },
        token: { type: ['string', 'null'], minLength: 8 },
        tls: {
          type: 'object',
          additionalProperties: false,
          properties: { cert: { type: 'string' }, key: { type: 'string' } },
          required: ['cert', 'key'],
        },
      },
    },
    server: serverConfigSchema,
    syncer: syncerArgsSchema,
    discovery: {
      type: 'object',
      additionalProperties: false,
      properties: {
        user: { type: 'string' },
        password: { type: 'string' },
        connectTimeout: { type: 'string', pattern: DURATION_PATTERN },
        queryTimeout: { type: 'string', pattern: DURATION_PATTERN },
        maxDepth: { type: 'integer', minimum: 0, maximum: 100 },
        maxInstances: { type: 'integer', minimum: 1, maximum: 100_000 },
      },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxAge: { type: ['string', 'null'], pattern: DURATION_PATTERN },
        maxSize: { type: ['string', 'null'], pattern: SIZE_PATTERN },
        checkInterval: { type: 'string', pattern: DURATION_PATTERN },
      },
    },
    storage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        durability: { type: 'string', enum: ['group', 'fsync'] },
        groupCommitDelay: { type: 'string', pattern: DURATION_PATTERN },
        serveBeforeSync: { type: 'boolean' },
        compression: { type: 'boolean' },
        readCache: { type: ['string', 'integer'], pattern: SIZE_PATTERN, minimum: 0 },
      },
    },
    cluster: {
      type: 'object',
      required: ['name', 'etcd'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' },
        etcd: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        advertise_admin: { type: 'string' },
        advertise_server: { type: 'string', pattern: HOST_PORT_PATTERN },
        lease_ttl: { type: 'string', pattern: DURATION_PATTERN },
        prefix: { type: 'string' },
        secret: { type: 'string', minLength: 16, maxLength: 1024 },
        replication_user: { type: 'string', minLength: 1, maxLength: 128 },
        replication_password: { type: 'string', maxLength: 1024 },
        etcd_user: { type: 'string', minLength: 1, maxLength: 256 },
        etcd_password: { type: 'string', maxLength: 1024 },
        etcd_tls: {
          type: 'object',
          required: ['ca'],
          additionalProperties: false,
          properties: { ca: { type: 'string', minLength: 1 }, cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
        },
      },
    },
  },
} as const;
