// node_http.js: node's `http` module answering "hello, world\n" to every
// request, the HTTP peer of bench/http.  With a gateway backend port, each
// request makes one round trip over a pooled TCP connection to it (64
// bytes out, 64 back) and answers with what came back.
//
// Usage: node node_http.js PORT [BACKEND_PORT]
'use strict';

const http = require('http');
const net = require('net');

const port = Number(process.argv[2]);
const backend = process.argv[3] ? Number(process.argv[3]) : 0;
const MSG = Buffer.from('x'.repeat(63) + '\n');
const pool = [];

function roundtrip(done) {
  let sock = pool.pop();
  if (!sock) {
    sock = net.connect(backend, '127.0.0.1');
    sock.setNoDelay(true);
    sock.on('error', () => {});
  }
  let got = [];
  let n = 0;
  const onData = (d) => {
    got.push(d);
    n += d.length;
    if (n >= MSG.length) {
      sock.removeListener('data', onData);
      pool.push(sock);
      done(Buffer.concat(got));
    }
  };
  sock.on('data', onData);
  sock.write(MSG);
}

const server = http.createServer((req, res) => {
  if (!backend) {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 13 });
    res.end('hello, world\n');
    return;
  }
  roundtrip((reply) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': reply.length });
    res.end(reply);
  });
});
server.keepAliveTimeout = 75000;
server.on('connection', (s) => s.setNoDelay(true));
server.listen(port, '127.0.0.1');
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
