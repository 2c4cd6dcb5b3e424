// node_ws_echo.js: a WebSocket echo with the `ws` package (npm; bench/http
// installs it into bench/peers/npm/), the WebSocket peer of bench/http.
//
// Usage: node node_ws_echo.js PORT
'use strict';

const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, 'npm', 'node_modules', 'ws'));

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
