// faulty_echo.js: an echo server that damages the stream on purpose, so
// bench/selftest can prove the load generator notices each kind of damage.
//
// Usage: node faulty_echo.js PORT MODE [EVERY]
//   ok     echo faithfully (the control)
//   flip   flip one bit in every EVERY-th chunk
//   swap   send the two halves of every EVERY-th chunk in reverse order
//   drop   drop the last byte of every EVERY-th chunk
//   extra  append one byte to every EVERY-th chunk
//   stall  read but never answer
//   close  destroy the connection at its EVERY-th chunk
// EVERY defaults to 50. Chunks are counted over all connections.
'use strict';

const net = require('net');

const port = Number(process.argv[2]);
const mode = process.argv[3];
const every = Number(process.argv[4] || 50);
const modes = ['ok', 'flip', 'swap', 'drop', 'extra', 'stall', 'close'];
if (!Number.isInteger(port) || !modes.includes(mode) || !(every >= 1)) {
  process.stderr.write(`usage: node faulty_echo.js PORT ${modes.join('|')} [EVERY]\n`);
  process.exit(2);
}

let chunks = 0;

function damage(sock, data) {
  chunks += 1;
  if (mode === 'ok' || chunks % every !== 0) return data;
  switch (mode) {
    case 'flip': {
      const out = Buffer.from(data);
      out[out.length >> 1] ^= 0x01;
      return out;
    }
    case 'swap':
      if (data.length < 2) return data;
      return Buffer.concat([data.subarray(data.length >> 1),
        data.subarray(0, data.length >> 1)]);
    case 'drop':
      return data.subarray(0, data.length - 1);
    case 'extra':
      return Buffer.concat([data, Buffer.from([0x5a])]);
    case 'close':
      sock.destroy();
      return null;
    default:
      return data;
  }
}

const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on('error', () => sock.destroy());
  sock.on('data', (data) => {
    if (mode === 'stall') return;
    const out = damage(sock, data);
    if (out !== null && !sock.destroyed) sock.write(out);
  });
});
server.listen({ host: '127.0.0.1', port, backlog: 4096 });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
