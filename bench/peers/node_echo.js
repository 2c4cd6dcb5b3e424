// node_echo.js: a Node.js echo server with the `net` module, a peer in the
// benchmark matrix: the usual way to write an event-loop server in a
// managed language.
//
// Usage: node node_echo.js PORT
//
// Each connection is piped into itself, the idiomatic node echo, which also
// applies backpressure (reading pauses while writes are queued). Like every
// server in bench/ it sets TCP_NODELAY, listens on 127.0.0.1 only, prints
// nothing on stdout, and exits cleanly on SIGINT or SIGTERM.
'use strict';

const net = require('net');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: node node_echo.js PORT\n');
  process.exit(2);
}

const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on('error', () => sock.destroy());   // resets are normal in a bench
  sock.pipe(sock);
});

server.on('error', (err) => {
  process.stderr.write(`node_echo: ${err.message}\n`);
  process.exit(1);
});
server.listen({ host: '127.0.0.1', port, backlog: 4096 });

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}
