"""Auth on a queue function, bad config, missing annotation, unresolved func."""

from qgen import sessionless_func, wire_queue_worker


@sessionless_func(auth=True, permissions=["admin"])
async def secret(services: object, data: int) -> None:
    return None


@sessionless_func
async def untyped(services, data):  # type: ignore[no-untyped-def]
    return None


@sessionless_func
async def fine(services: object, data: int) -> None:
    return None


wire_queue_worker(queue="secret", func=secret)
wire_queue_worker(queue="untyped", func=untyped)
wire_queue_worker(queue="config", func=fine, config={"atempts": 3, "batch_size": "ten"})
wire_queue_worker(queue="ghost", func=does_not_exist)  # type: ignore[name-defined]  # noqa: F821
