// ws_load.js: the WebSocket load of bench/http: C connections, each keeping
// P text messages of S bytes in flight against an echo server, for D
// seconds after W of warmup; every echo is checked.  Prints one line:
//   RESULT msgs=N secs=D rate=R errors=E
// and, when given the server's PID, samples its CPU time over the window
// (all threads, /proc/PID/task/*/schedstat) and adds srv_us_per_msg=.
//
// Usage: node ws_load.js URL C P S D W [PID]
'use strict';

const fs = require('fs');
const path = require('path');
const WebSocket = require(path.join(__dirname, 'npm', 'node_modules', 'ws'));

const [url, C, P, S, D, W, PID] = process.argv.slice(2);
const conns = Number(C), depth = Number(P), size = Number(S);
const msg = 'm'.repeat(size);
let counting = false, msgs = 0, errors = 0, open = 0;

function cpuNs(pid) {
  let t = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    t += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  }
  return t;
}

for (let i = 0; i < conns; i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('open', () => {
    open++;
    for (let k = 0; k < depth; k++) ws.send(msg);
  });
  ws.on('message', (data) => {
    if (data.length !== size) errors++;
    if (counting) msgs++;
    ws.send(msg);
  });
  ws.on('error', () => errors++);
}

setTimeout(() => {
  let cpu0 = PID ? cpuNs(PID) : 0;
  const t0 = process.hrtime.bigint();
  msgs = 0;
  counting = true;
  setTimeout(() => {
    counting = false;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    let extra = '';
    if (PID) extra = ` srv_us_per_msg=${((cpuNs(PID) - cpu0) / 1000 / msgs).toFixed(3)}`;
    console.log(`RESULT msgs=${msgs} secs=${secs.toFixed(3)} rate=${(msgs / secs).toFixed(0)} ` +
      `conns=${open} errors=${errors}${extra}`);
    process.exit(0);
  }, Number(D) * 1000);
}, Number(W) * 1000);
