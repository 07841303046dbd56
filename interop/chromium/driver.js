// Drives Debian's Chromium through playwright-core (1.65.1) for the interop
// tests: loads page.html (which implements the line protocol of
// interop/client.go with the browser's own WebSocket), forwards stdin
// commands to it and prints its events on stdout.
//
// It also prints what DevTools' Network tab shows for each WebSocket, from
// the browser's own instrumentation (CDP Network.webSocket* events):
//   {"ev":"devtools","kind":"websocket","url":...}
//   {"ev":"devtools","kind":"framereceived"|"framesent","url":...,"data":...}
//   {"ev":"devtools","kind":"close"|"socketerror","url":...,"error":...}
//
// usage: node driver.js PAGE_URL USER_DATA_DIR
'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

const [ pageURL, userDataDir ] = process.argv.slice(2);

function emit(ev) {
    process.stdout.write(JSON.stringify(ev) + '\n');
}

async function main() {
    // A persistent context is how playwright passes a fresh --user-data-dir.
    const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        timeout: 30000,
        args: [
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'
        ]
    });
    const page = context.pages()[0] || await context.newPage();

    page.on('console', msg => process.stderr.write(`console.${msg.type()}: ${msg.text()}\n`));
    page.on('pageerror', err => emit({ ev: 'error', error: `page error: ${err.message}` }));
    page.on('websocket', ws => {
        const url = ws.url();

        emit({ ev: 'devtools', kind: 'websocket', url });
        ws.on('framesent', f => emit({ ev: 'devtools', kind: 'framesent', url, data: String(f.payload) }));
        ws.on('framereceived', f => emit({ ev: 'devtools', kind: 'framereceived', url, data: String(f.payload) }));
        ws.on('socketerror', err => emit({ ev: 'devtools', kind: 'socketerror', url, error: String(err) }));
        ws.on('close', () => emit({ ev: 'devtools', kind: 'close', url }));
    });
    await page.exposeFunction('colibriEvent', ev => emit(ev));
    await page.goto(pageURL, { waitUntil: 'load', timeout: 15000 });
    emit({ ev: 'ready', name: `chromium ${context.browser() ? context.browser().version() : ''}` });

    const rl = readline.createInterface({ input: process.stdin });

    const exit = async () => {
        rl.close();
        await context.close().catch(() => {});
        process.exit(0);
    };

    rl.on('line', async line => {
        let cmd;

        try {
            cmd = JSON.parse(line);
        } catch (err) {
            emit({ ev: 'error', error: `bad command: ${err.message}` });

            return;
        }
        if (cmd.op === 'exit') {
            await exit();

            return;
        }
        try {
            await page.evaluate(c => window.colibriCommand(c), cmd);
        } catch (err) {
            emit({ ev: 'error', id: cmd.id, error: String(err && err.message) });
        }
    });
    rl.on('close', exit);
}

main().catch(err => {
    emit({ ev: 'error', error: String(err && err.stack) });
    process.exit(1);
});
