"""python3-websockets (Debian's 10.4) speaking the interop line protocol.

JSON commands on stdin, JSON events on stdout (see interop/client_test.go). Run
it with /usr/bin/python3: Debian's dist-packages hold the websockets module.

Extra commands: "send" with "fragments" (a list) sends one message in that
many frames; {"op":"ping","id":...,"data":...} sends a Ping and reports
{"ev":"pong"} when the matching Pong arrives.

Extra event fields: "extensions" on open lists the negotiated extension
names; "rx" on a message is the bytes read from the socket so far, counted
below the WebSocket layer, so it shows what crossed the wire.
"""

import asyncio
import json
import os
import sys

import websockets


def emit(ev):
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


class Conn:
    def __init__(self, cid):
        self.id = cid
        self.ws = None
        self.rx = 0


conns = {}


def count_bytes(conn, ws):
    # The protocol object receives every byte from the transport here.
    inner = ws.data_received

    def data_received(data):
        conn.rx += len(data)
        inner(data)

    ws.data_received = data_received


async def run(conn, url, deflate):
    try:
        ws = await websockets.connect(
            url,
            # the library's default offer: "permessage-deflate; client_max_window_bits"
            compression="deflate" if deflate else None,
            open_timeout=10,
            ping_interval=None,  # only the server pings here
            max_size=1 << 20,
        )
    except websockets.exceptions.InvalidStatusCode as e:
        emit({"ev": "error", "id": conn.id, "error": "unexpected response %d" % e.status_code, "code": e.status_code})
        emit({"ev": "close", "id": conn.id, "code": 1006, "reason": ""})
        return
    except Exception as e:  # noqa: BLE001 - reported to the test
        emit({"ev": "error", "id": conn.id, "error": repr(e)})
        emit({"ev": "close", "id": conn.id, "code": 1006, "reason": ""})
        return
    conn.ws = ws
    count_bytes(conn, ws)
    names = [ext.name for ext in ws.extensions]
    emit({"ev": "open", "id": conn.id, "extensions": ",".join(names)})
    try:
        async for msg in ws:
            if isinstance(msg, bytes):
                emit({"ev": "error", "id": conn.id, "error": "binary message of %d bytes" % len(msg)})
                continue
            emit({"ev": "message", "id": conn.id, "data": msg, "rx": conn.rx})
    except websockets.exceptions.ConnectionClosed:
        pass
    except Exception as e:  # noqa: BLE001 - a protocol violation by the server ends up here
        emit({"ev": "error", "id": conn.id, "error": repr(e)})
    await ws.wait_closed()
    emit({"ev": "close", "id": conn.id, "code": ws.close_code, "reason": ws.close_reason})


async def handle(cmd, tasks):
    op = cmd.get("op")
    cid = cmd.get("id")
    if op == "connect":
        conn = Conn(cid)
        conns[cid] = conn
        tasks.append(asyncio.ensure_future(run(conn, cmd["url"], cmd.get("deflate", False))))
    elif op == "send":
        if cmd.get("fragments"):
            # an iterable sends one message in that many frames
            await conns[cid].ws.send(iter(cmd["fragments"]))
        else:
            await conns[cid].ws.send(cmd["data"])
    elif op == "ping":
        waiter = await conns[cid].ws.ping(cmd.get("data", ""))

        async def pong(conn=conns[cid], data=cmd.get("data", "")):
            try:
                await asyncio.wait_for(waiter, 10)
                emit({"ev": "pong", "id": conn.id, "data": data})
            except Exception as e:  # noqa: BLE001
                emit({"ev": "error", "id": conn.id, "error": "no pong: %r" % e})

        tasks.append(asyncio.ensure_future(pong()))
    elif op == "close":
        await conns[cid].ws.close(code=cmd.get("code") or 1000)
    elif op == "exit":
        return False
    else:
        emit({"ev": "error", "error": "unknown op %r" % op})
    return True


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = []
    emit({"ev": "ready", "name": "websockets %s" % websockets.__version__})
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            if not await handle(json.loads(line), tasks):
                break
        except Exception as e:  # noqa: BLE001
            emit({"ev": "error", "error": repr(e)})
    # Exit at once: the sockets are dropped without closing handshakes (the
    # tests close what they want closed before asking the client to exit).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
