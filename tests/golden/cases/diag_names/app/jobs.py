"""Queue names with quotes or spaces, duplicates, and accessor clashes are rejected."""

from qgen import sessionless_func, wire_queue_worker


@sessionless_func
async def job(services: object, data: int) -> None:
    return None


wire_queue_worker(queue="has space", func=job)
wire_queue_worker(queue='quote"d', func=job)
wire_queue_worker(queue="it's", func=job)
wire_queue_worker(queue="ok", func=job)
wire_queue_worker(queue="ok", func=job)
wire_queue_worker(queue="a-b", func=job)
wire_queue_worker(queue="a.b", func=job)
