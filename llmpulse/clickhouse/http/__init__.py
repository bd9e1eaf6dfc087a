"""ClickHouse's HTTP interface in front of the embedded store (see ``server.py``)."""

from llmpulse.clickhouse.http.settings import READER, WRITER, EndpointSettings, endpoint_url, stored_password

__all__ = ["READER", "WRITER", "EndpointSettings", "endpoint_url", "stored_password"]
