"""Issue 10 item 2: fields with aliases (``from``, ``message-id``) travel by alias, as the JSON
Schema says, from the client to the worker and back in the result, on every backend."""

from __future__ import annotations

from hostile_app.jobs import Mail, Receipt, seen
from hostile_harness import HostileCase, eventually, worker

from qgen.runtime.capabilities import Feature


async def test_payloads_and_results_travel_by_alias(backend: HostileCase) -> None:
    client = backend.client()
    queue = client.queue("h-mail")
    try:
        as_model = await queue.add(Mail.model_validate({"from": "ann", "message-id": "m-1"}))
        as_dict = await queue.add({"from": "bob", "message-id": "m-2", "subject": "hi"})
        if backend.supports(Feature.STATUS):
            info = await as_dict.info()
            assert info.data == {"from": "bob", "message-id": "m-2", "subject": "hi"}
        async with worker(backend, ["h-mail"]) as task:
            done = await eventually(
                lambda: seen("h-mail"), lambda s: len(s) == 2, worker_task=task, what="2 jobs"
            )
            assert sorted(done) == ["ann|m-1|", "bob|m-2|hi"]
            if backend.supports(Feature.RESULTS):
                receipt = await as_model.result(timeout=20)
                assert isinstance(receipt, Receipt)
                assert (receipt.to_address, receipt.sender) == ("ann", "robot")
                raw = await as_dict.info()
                assert raw.result == {"to-address": "bob", "from": "robot"}
    finally:
        await client.close()
