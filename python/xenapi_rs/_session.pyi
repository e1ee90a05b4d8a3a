import os
import xmlrpc.client
from typing import Any, ContextManager, List, Optional, Union

from ._api import XenAPIProxy
from ._errors import Failure as Failure
from ._native import Cancel

API_VERSION_1_1: str
API_VERSION_1_2: str
XAPI_LOCAL_SOCKET: str

_Path = Union[str, "os.PathLike[str]"]

class UDSTransport(xmlrpc.client.Transport): ...

class Session:
    xenapi: XenAPIProxy
    transport: Any
    def __init__(
        self,
        uri: str,
        transport: Any = ...,
        encoding: Optional[str] = ...,
        verbose: bool = ...,
        allow_none: bool = ...,
        ignore_ssl: bool = ...,
        *,
        verify: Union[bool, _Path] = ...,
        ca_file: Optional[_Path] = ...,
        fingerprint: Optional[str] = ...,
        timeout: Optional[float] = ...,
        connect_timeout: Optional[float] = ...,
        follow_coordinator: bool = ...,
        originator: Optional[str] = ...,
        version: Optional[str] = ...,
        protocol: str = ...,
        max_response_bytes: Optional[int] = ...,
        failover: bool = ...,
        max_concurrent_calls: Optional[int] = ...,
    ) -> None: ...
    @property
    def handle(self) -> Optional[str]: ...
    @property
    def protocol(self) -> str: ...
    @property
    def _session(self) -> Optional[str]: ...
    @property
    def API_version(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def dialect(self) -> str: ...
    def timeout(self, seconds: float) -> ContextManager["Session"]: ...
    @property
    def call_timeout(self) -> float: ...
    @property
    def max_concurrent_calls(self) -> int: ...
    @property
    def pool_addresses(self) -> List[str]: ...
    def wait_task(
        self, task: str, timeout: float = ..., cancel: Optional[Cancel] = ...
    ) -> Any: ...
    def login_with_password(
        self, username: str, password: str, version: str = ..., originator: str = ..., /
    ) -> None: ...
    def slave_local_login_with_password(self, username: str, password: str, /) -> None: ...
    def logout(self) -> None: ...
    def xenapi_request(self, methodname: str, params: tuple) -> Any: ...
    def __getattr__(self, name: str) -> Any: ...
    def __enter__(self) -> "Session": ...
    def __exit__(self, *exc: Any) -> None: ...

def xapi_local() -> Session:
    """A session on xapi's local Unix socket, /var/lib/xcp/xapi (in dom0)."""
    ...

class ServerProxy:
    def __init__(
        self,
        uri: str,
        transport: Any = ...,
        encoding: Optional[str] = ...,
        verbose: bool = ...,
        allow_none: bool = ...,
        use_datetime: bool = ...,
        use_builtin_types: bool = ...,
        *,
        context: Any = ...,
        verify: Union[bool, _Path] = ...,
        ca_file: Optional[_Path] = ...,
        fingerprint: Optional[str] = ...,
        timeout: Optional[float] = ...,
        connect_timeout: Optional[float] = ...,
    ) -> None: ...
    def __getattr__(self, name: str) -> Any: ...
    def __enter__(self) -> "ServerProxy": ...
    def __exit__(self, *exc: Any) -> None: ...
