// Starts @firestore-emulator/server on 127.0.0.1 only (its own start() binds every
// interface). With --snapshot FILE, the in-memory state is written there as JSON on
// SIGTERM/SIGINT so a demo's data can be restored on the next start.
"use strict";
const fs = require("node:fs");
const { FirestoreServer } = require("@firestore-emulator/server");
const { ServerCredentials } = require("@grpc/grpc-js");

const args = process.argv.slice(2);
const port = Number(args[args.indexOf("--port") + 1] || 8681);
const snapshotAt = args.includes("--snapshot") ? args[args.indexOf("--snapshot") + 1] : null;

const emulator = new FirestoreServer();
emulator.server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error(`firestore emulator: cannot bind 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  console.log(`firestore emulator listening on 127.0.0.1:${bound}`);
});

function stop() {
  if (snapshotAt) {
    try {
      fs.writeFileSync(snapshotAt + ".tmp", JSON.stringify(emulator.state.toJSON()));
      fs.renameSync(snapshotAt + ".tmp", snapshotAt);
      console.log(`firestore emulator: state saved to ${snapshotAt}`);
    } catch (e) {
      console.error(`firestore emulator: snapshot failed: ${e.message}`);
    }
  }
  emulator.server.forceShutdown();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
