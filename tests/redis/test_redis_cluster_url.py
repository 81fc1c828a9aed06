"""Redis Cluster URLs (issue 13, item 6): the form, the hash-tagged prefix it requires, and a
clear error when no node answers. The cluster itself is exercised by
tests/contract/test_contract_cluster.py, tests/interop/test_bullmq_node_cluster.py and
tests/reliability/test_redis_cluster_kill.py."""

from __future__ import annotations

import socket

import pytest

from qgen.runtime.backends.redis.url import hash_tag, parse_url
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.errors import BackendUnavailable, ConfigError


def test_cluster_url_lists_its_nodes() -> None:
    t = parse_url("redis+cluster://u:secret@a:7000,b:7001,[::1]:7002/?prefix={bull}")
    assert t.cluster and t.prefix == "{bull}"
    assert t.nodes == (("a", 7000), ("b", 7001), ("::1", 7002))
    assert t.client_url == "redis://u:secret@a:7000/"
    assert t.node_url("c", 7005) == "redis://u:secret@c:7005/"
    assert t.node_url("::1", 7002) == "redis://u:secret@[::1]:7002/"
    tls = parse_url("rediss+cluster://a:7000/?prefix=app%7Bjobs%7D&ssl_cert_reqs=none")
    assert tls.prefix == "app{jobs}" and tls.client_url.startswith("rediss://a:7000/")
    assert not parse_url("redis://h:6379/0?prefix={bull}").cluster


@pytest.mark.parametrize("prefix", ["bull", "{}bull", "bull}{", "{bull", "x"])
def test_a_cluster_refuses_a_prefix_without_hash_tag(prefix: str) -> None:
    with pytest.raises(ConfigError, match=r"has no hash tag.*share one slot.*'\{bull\}'"):
        parse_url(f"redis+cluster://a:7000/?prefix={prefix}")


def test_a_cluster_refuses_the_default_prefix_and_other_databases() -> None:
    with pytest.raises(ConfigError, match="'bull' has no hash tag"):
        parse_url("redis+cluster://a:7000,b:7001")
    with pytest.raises(ConfigError, match="only database 0"):
        parse_url("redis+cluster://a:7000/3?prefix={bull}")
    with pytest.raises(ConfigError, match="host:port"):
        parse_url("redis+cluster://a:7000,,b:7001/?prefix={bull}")


def test_hash_tag_is_what_redis_hashes() -> None:
    assert hash_tag("{bull}") == "bull"
    assert hash_tag("app{jobs}x") == "jobs"
    assert hash_tag("{}{bull}") == ""  # Redis hashes the whole key when the first tag is empty
    assert hash_tag("bull") == ""


async def test_no_node_answering_is_a_clear_error() -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    url = f"redis+cluster://u:hunter22@127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}/?prefix={{b}}"
    with pytest.raises(BackendUnavailable) as err:
        await open_backend(url, {})
    text = str(err.value)
    assert "no cluster node answered" in text and f"127.0.0.1:{ports[1]}" in text
    assert "hunter22" not in text
