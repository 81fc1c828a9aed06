"""A fine module beside a broken one."""

from qgen import sessionless_func, wire_queue_worker


@sessionless_func
async def job(services: object, data: int) -> None:
    return None


wire_queue_worker(queue="fine", func=job)
