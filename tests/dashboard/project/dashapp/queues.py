from dashapp.functions.orders import echo, take_order
from qgen import wire_queue_worker

wire_queue_worker(
    queue="orders",
    func=take_order,
    config={"batch_size": 4, "attempts": 1, "poll_interval": 50, "drain_delay": 1},
    tags=["shop"],
)
wire_queue_worker(queue="echo", func=echo, config={"attempts": 1, "poll_interval": 50})
