"""The ceiling of the bus: a bare nats-py responder answering every request with its payload.
Run as a process: python -m bench.nats_echo NATS_URL SUBJECT"""

import asyncio
import sys

import nats


async def main(url: str, subject: str) -> None:
    nc = await nats.connect(url)

    async def echo(msg):
        await msg.respond(msg.data)

    await nc.subscribe(subject, queue="echo", cb=echo)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(sys.argv[1], sys.argv[2]))
