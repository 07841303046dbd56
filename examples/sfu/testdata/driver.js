// Drives Debian's Chromium through playwright-core for sfu_test.go: one
// browser with fake camera and microphone, one page per participant.
//
// Commands on stdin, one JSON object a line:
//   {"op":"open","page":"a","url":"http://.../?room=r"}
//   {"op":"eval","seq":7,"page":"a","expr":"sfu.stats()"}     -> {"ev":"result","seq":7,"value":...}
//   {"op":"screenshot","seq":8,"page":"a","path":"/tmp/a.png"} -> {"ev":"result","seq":8}
//   {"op":"exit"}
// A command that fails answers {"ev":"error","seq":...,"error":...}.
// Other events: {"ev":"ready"}, {"ev":"pageerror","page","error"}.
//
// usage: node driver.js   (NODE_PATH holds playwright-core)
'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

function emit(ev) {
    process.stdout.write(JSON.stringify(ev) + '\n');
}

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        timeout: 30000,
        args: [
            '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync',
            '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
            '--autoplay-policy=no-user-gesture-required',
            '--disable-features=WebRtcHideLocalIpsWithMdns'
        ]
    });
    const pages = new Map();

    const run = async cmd => {
        switch (cmd.op) {
        case 'open': {
            const context = await browser.newContext({ viewport: { width: 1040, height: 560 } });
            const page = await context.newPage();

            page.on('console', m => process.stderr.write(`${cmd.page} console.${m.type()}: ${m.text()}\n`));
            page.on('pageerror', err => emit({ ev: 'pageerror', page: cmd.page, error: err.message }));
            pages.set(cmd.page, page);
            await page.goto(cmd.url, { waitUntil: 'load', timeout: 15000 });

            return null;
        }
        case 'eval':
            return await pages.get(cmd.page).evaluate(cmd.expr);
        case 'screenshot':
            await pages.get(cmd.page).screenshot({ path: cmd.path });

            return null;
        case 'exit':
            await browser.close().catch(() => {});
            process.exit(0);
        }
        throw new Error(`unknown op ${cmd.op}`);
    };

    readline.createInterface({ input: process.stdin }).on('line', async line => {
        let cmd;

        try {
            cmd = JSON.parse(line);
            const value = await run(cmd);

            emit({ ev: 'result', seq: cmd.seq, value: value === undefined ? null : value });
        } catch (err) {
            emit({ ev: 'error', seq: cmd && cmd.seq, error: String(err && err.message) });
        }
    }).on('close', async () => {
        await browser.close().catch(() => {});
        process.exit(0);
    });
    emit({ ev: 'ready', version: browser.version() });
}

main().catch(err => {
    emit({ ev: 'error', error: String(err && err.stack) });
    process.exit(1);
});
