// A Cube 0.33 server for semsync's tests: Cube's REST API over PostgreSQL, bound to one host and port.
//
// Started by devstack/cube_server (the Python launcher), which sets the environment:
//   SEMSYNC_CUBE_HOST, SEMSYNC_CUBE_PORT   where to listen (127.0.0.1 and a free port)
//   CUBEJS_API_SECRET                      the HS256 secret every request's JWT must be signed with
//   CUBEJS_DB_HOST/PORT/NAME/USER/PASS     the PostgreSQL database the model reads
//   NODE_ENV=production, CUBEJS_DEV_MODE=false, CUBEJS_CACHE_AND_QUEUE_DRIVER=memory
//   SEMSYNC_CUBE_CONTINUE_WAIT_S           optional, whole seconds before "Continue wait" (default 5)
//   SEMSYNC_CUBE_LOG=all                   log every event (default: errors only)
// and runs it with the model directory `model/` under its working directory (Cube joins the
// schema path to the cwd, so an absolute path would not work).
//
// This uses @cubejs-backend/server-core with express rather than @cubejs-backend/server: the latter
// only adds a CLI and a WebSocket/SQL API we do not use. Cube's native (Rust) module is not installed
// (npm --ignore-scripts); plain YAML and JS models, the REST API and the Postgres driver do not need it.
'use strict';

const express = require('express');
const { CubejsServerCore } = require('@cubejs-backend/server-core');

const host = process.env.SEMSYNC_CUBE_HOST || '127.0.0.1';
const port = parseInt(process.env.SEMSYNC_CUBE_PORT || '4000', 10);
// seconds a /load request waits for its query before answering {"error": "Continue wait"} (Cube: 5)
const continueWait = process.env.SEMSYNC_CUBE_CONTINUE_WAIT_S;

async function main() {
  const core = new CubejsServerCore({
    apiSecret: process.env.CUBEJS_API_SECRET,
    dbType: 'postgres',
    schemaPath: process.env.SEMSYNC_CUBE_MODEL_DIR || 'model',
    devServer: false,
    telemetry: false,
    scheduledRefreshTimer: false,
    ...(continueWait ? { orchestratorOptions: { continueWaitTimeout: parseInt(continueWait, 10) } } : {}),
    logger: (msg, params) => {
      if (process.env.SEMSYNC_CUBE_LOG === 'all' || /error/i.test(msg)) {
        console.log(JSON.stringify({ msg, ...params }));
      }
    },
  });

  const app = express();
  app.use(express.json({ limit: '10mb' }));
  await core.initApp(app);

  const server = app.listen(port, host, () => {
    console.log(`semsync-cube: listening on http://${host}:${port}`);
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    try {
      await core.shutdown();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
