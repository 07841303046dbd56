// lib-jitsi-meet's BridgeChannel, the colibri-ws client of Jitsi Meet, run in
// Node for the interop tests. It is the unmodified dist file of
// @lyno/lib-jitsi-meet@2.6726.2 (a republished jitsi/lib-jitsi-meet), with
// npm's ws as the global WebSocket, as it would be the browser's.
//
// Line protocol (see StartBridgeChannel in interop/client.go):
//   {"op":"open","id":"a","url":"ws://..."}                       new BridgeChannel(null, url, emitter)
//   {"op":"call","id":"a","method":"sendMessage","args":[...]}    bc[method](...args)
//   {"op":"close","id":"a"}                                       bc.close()
//   {"op":"exit"}
// Events:
//   {"ev":"bc","id":"a","name":"rtc.endpoint_message_received","args":[...]}  every emitter event
//   {"ev":"attempt","id":"a","url":...}     BridgeChannel created a WebSocket (first try or a retry)
//   {"ev":"open"|"close"|"message",...}     that WebSocket's own events
//   {"ev":"call","id":"a","method":...,"result":...}  a call returned ({"ev":"error"} if it threw)
//
// Environment: LIB_JITSI_MEET (the unpacked package), NODE_PATH (for
// @jitsi/logger and ws).
'use strict';

const EventEmitter = require('events');
const Module = require('module');
const path = require('path');
const readline = require('readline');

// stdout carries events only; the library's logger goes to stderr.
for (const level of [ 'log', 'info', 'debug', 'warn', 'error', 'trace' ]) {
    console[level] = (...args) => process.stderr.write(`${level}: ${args.map(String).join(' ')}\n`);
}

function emit(ev) {
    process.stdout.write(JSON.stringify(ev) + '\n');
}

// Which BridgeChannel a WebSocket belongs to, by URL (each endpoint has its own).
const idByUrl = new Map();

const WS = require('ws');

class TracedWebSocket extends WS {
    constructor(url, ...rest) {
        super(url, ...rest);
        const id = idByUrl.get(url);

        emit({ ev: 'attempt', id, url });
        this.addEventListener('open', () => emit({ ev: 'open', id, extensions: this.extensions }));
        this.addEventListener('message', e => emit({ ev: 'message', id, data: String(e.data) }));
        this.addEventListener('close', e => emit({ ev: 'close', id, code: e.code, reason: e.reason }));
    }
}

global.WebSocket = TracedWebSocket;
global.window = global; // GlobalOnErrorHandler touches window

// statistics.js pulls in browser-only code (RTCStats, callstats); BridgeChannel
// only calls sendAnalytics on it.
const load = Module._load;

Module._load = function(request, ...rest) {
    if (request.endsWith('/statistics/statistics')) {
        return { __esModule: true,
            default: { sendAnalytics() {}, sendAnalyticsAndLog() {} } };
    }

    return load.call(this, request, ...rest);
};

const lib = process.env.LIB_JITSI_MEET;
const BridgeChannel = require(path.join(lib, 'dist/modules/RTC/BridgeChannel')).default;
const channels = new Map();

function open({ id, url }) {
    const emitter = new EventEmitter();
    const orig = emitter.emit;

    emitter.emit = function(name, ...args) {
        emit({ ev: 'bc', id, name, args });

        return orig.call(this, name, ...args);
    };
    idByUrl.set(url, id);
    channels.set(id, new BridgeChannel(null, url, emitter));
}

function handle(cmd) {
    const bc = channels.get(cmd.id);

    switch (cmd.op) {
    case 'open':
        open(cmd);
        break;
    case 'call': {
        const result = bc[cmd.method](...(cmd.args || []));

        emit({ ev: 'call', id: cmd.id, method: cmd.method, result: result === undefined ? null : result });
        break;
    }
    case 'close':
        bc.close();
        break;
    case 'exit':
        process.exit(0);
        break;
    default:
        emit({ ev: 'error', error: `unknown op ${cmd.op}` });
    }
}

readline.createInterface({ input: process.stdin }).on('line', line => {
    let cmd;

    try {
        cmd = JSON.parse(line);
        handle(cmd);
    } catch (err) {
        emit({ ev: 'error', id: cmd && cmd.id, error: String(err && err.message) });
    }
}).on('close', () => process.exit(0));

emit({ ev: 'ready', name: `lib-jitsi-meet ${require(path.join(lib, 'package.json')).version}` });
