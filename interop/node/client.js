// The npm `ws` client (8.23.0) speaking the interop line protocol (see
// interop/client.go): JSON commands on stdin, JSON events on stdout.
//
// Extra event fields: "rx" on a message is the socket's bytes read so far
// (what came over the wire, compressed or not); {"ev":"ping","id":...} for
// every Ping frame the server sends (ws answers it with a Pong itself).
// Extra commands: "send" with "fragments" (an array) sends one message in
// that many frames; {"op":"ping","id":...,"data":...} sends a Ping, and the
// server's Pong comes back as {"ev":"pong","id":...,"data":...}.
'use strict';

const readline = require('readline');
const WebSocket = require('ws');

const sockets = new Map();

function emit(ev) {
    process.stdout.write(JSON.stringify(ev) + '\n');
}

function connect({ id, url, deflate }) {
    // perMessageDeflate: ws offers "permessage-deflate; client_max_window_bits"
    // and compresses messages of 1 KiB and more (its default threshold).
    const ws = new WebSocket(url, { perMessageDeflate: Boolean(deflate), handshakeTimeout: 10000 });

    sockets.set(id, ws);
    ws.on('open', () => emit({ ev: 'open', id, extensions: ws.extensions }));
    ws.on('message', (data, isBinary) => {
        if (isBinary) {
            emit({ ev: 'error', id, error: `binary message of ${data.length} bytes` });

            return;
        }
        emit({ ev: 'message', id, data: data.toString('utf8'), rx: ws._socket ? ws._socket.bytesRead : -1 });
    });
    ws.on('ping', () => emit({ ev: 'ping', id }));
    ws.on('pong', data => emit({ ev: 'pong', id, data: data.toString('utf8') }));
    ws.on('unexpected-response', (req, res) => {
        emit({ ev: 'error', id, error: `unexpected response ${res.statusCode}`, code: res.statusCode });
        req.destroy();
    });
    ws.on('error', err => emit({ ev: 'error', id, error: String(err && err.message) }));
    ws.on('close', (code, reason) => emit({ ev: 'close', id, code, reason: reason.toString('utf8') }));
}

function handle(cmd) {
    const ws = sockets.get(cmd.id);

    switch (cmd.op) {
    case 'connect':
        connect(cmd);
        break;
    case 'send':
        if (cmd.fragments) {
            // one text message in several frames (FIN on the last)
            cmd.fragments.forEach((f, i) => ws.send(f, { fin: i === cmd.fragments.length - 1 }));
        } else {
            ws.send(cmd.data, err => err && emit({ ev: 'error', id: cmd.id, error: String(err.message) }));
        }
        break;
    case 'ping':
        ws.ping(cmd.data || '');
        break;
    case 'close':
        ws.close(cmd.code || 1000);
        break;
    case 'exit':
        process.exit(0);
        break;
    default:
        emit({ ev: 'error', error: `unknown op ${cmd.op}` });
    }
}

readline.createInterface({ input: process.stdin }).on('line', line => {
    try {
        handle(JSON.parse(line));
    } catch (err) {
        emit({ ev: 'error', error: String(err && err.stack) });
    }
}).on('close', () => process.exit(0));

emit({ ev: 'ready', name: `ws ${require('ws/package.json').version}` });
