"""@profile_endpoint on a plain and an async function, with unrelated work
on another thread that must stay out of the endpoint reports."""
import asyncio
import threading
import time
import zlib

import polyprof
from _common import burn, emit, samples_json

reports = []
DATA = bytes(range(256)) * 1024


def inner_sync_work():
    burn(0.25)


@polyprof.profile_endpoint(duration_seconds=4.0, output=reports.append)
def handler(request):
    inner_sync_work()
    return request


async def inner_async_work():
    burn(0.2)
    await asyncio.sleep(0.01)
    burn(0.1)


async def other_coroutine():
    # Runs on the same thread and event loop while the endpoint is suspended:
    # it must not be attributed to the endpoint.
    burn(0.3)


@polyprof.profile_endpoint(duration_seconds=4.0, output=reports.append, top=5)
async def async_handler():
    await inner_async_work()


def unrelated():
    start = time.time()
    while time.time() - start < 0.8:
        zlib.compress(DATA)


t = threading.Thread(target=unrelated, name="unrelated")
t.start()
handler("req")          # opens the sync endpoint's window


async def main():
    await asyncio.gather(async_handler(), other_coroutine())


asyncio.run(main())
t.join()
start = time.time()
ep_sync, ep_async = handler.polyprof_endpoint, async_handler.polyprof_endpoint
while (ep_sync.state != "done" or ep_async.state != "done") and time.time() - start < 30:
    time.sleep(0.05)
handler("after the window")   # costs nothing now; must not reopen
emit(reports=reports,
     sync_samples=samples_json(ep_sync.profile), async_samples=samples_json(ep_async.profile),
     states=[ep_sync.state, ep_async.state], running=polyprof._native.running())
