#!/usr/bin/env node
// Starts the Cosmos DB emulator (@vercel/cosmosdb-server, pinned in
// package.json) with HTTP keep-alive. Its own CLI has no flag for it and
// answers every request with "Connection: close", so each Cosmos call paid
// a new TCP connection and TLS handshake — a cost real Cosmos DB does not
// have, which dominated load tests against the emulator.
// Usage: node cosmosdb-server.js --host 127.0.0.1 -p <port>
"use strict";
const { createHttpsServer } = require("@vercel/cosmosdb-server");

let port = 8081;
let host = "127.0.0.1";
const argv = process.argv.slice(2);
while (argv.length) {
  const key = argv.shift();
  if (key === "-p" || key === "--port") port = parseInt(argv.shift(), 10);
  else if (key === "--host") host = argv.shift();
}
const server = createHttpsServer({ keepAlive: true });
// Node closes a connection idle for 5 s by default; Go clients keep idle
// connections for 90 s (shared/cosmos.HTTPClient) and reuse one the server
// is closing at that moment, which fails a POST with "broken pipe" (Go
// retries only requests it knows were not sent). The server must wait
// longer than any client: idle connections close from the client side.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.listen(port, host, () => {
  console.log(`Ready to accept HTTPS connections at ${host}:${port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
