"""The jitpim broker: a service that verifies a CI job's GitHub OIDC token, decides by Cedar policy, grants
with its own identity (the job holds no standing right), collects approvals, and releases and reaps.

    config = load_config(Path("broker.yaml"))
    broker = build_broker(config, environ=os.environ)    # refuses to build on any policy error
    with BrokerServer(broker) as server:                  # or create_app(broker) under any ASGI server
        print(server.url)

See docs/tutorial/broker.md, docs/reference/broker.md and docs/reference/policy.md.
"""

from __future__ import annotations

from .app import create_app
from .config import BrokerConfig, load_config
from .factory import build_broker
from .records import BrokerRequest, RequestState
from .server import BrokerServer
from .service import Broker

__all__ = [
    "Broker",
    "BrokerConfig",
    "BrokerRequest",
    "BrokerServer",
    "RequestState",
    "build_broker",
    "create_app",
    "load_config",
]
