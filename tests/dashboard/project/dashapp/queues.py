from dashapp.functions.orders import bury, echo, take_order
from qgen import wire_queue_worker

wire_queue_worker(
    queue="orders",
    func=take_order,
    config={"batch_size": 4, "attempts": 1, "poll_interval": 50, "drain_delay": 1},
    tags=["shop"],
)
wire_queue_worker(
    queue="echo",
    func=echo,
    config={"attempts": 1, "poll_interval": 50, "dead_letter": "echo-dead"},
)
wire_queue_worker(queue="echo-dead", func=bury, config={"autorun": False})
