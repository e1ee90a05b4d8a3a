import os
from typing import (
    Any,
    AsyncIterator,
    Dict,
    Iterable,
    List,
    Optional,
    Type,
    Union,
)
from types import TracebackType

from . import _native
from ._aio_api import AsyncXenAPIProxy
from ._cache import Change, ClassView
from ._native import Cancel

_Path = Union[str, "os.PathLike[str]"]

class Session:
    xenapi: AsyncXenAPIProxy
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
    async def __aenter__(self) -> "Session": ...
    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...
    async def login_with_password(
        self, username: str, password: str, version: str = ..., originator: str = ..., /
    ) -> None: ...
    async def logout(self) -> None: ...
    async def close(self) -> None: ...
    async def wait_task(
        self, task: str, timeout: float = ..., cancel: Optional[Cancel] = ...
    ) -> Any: ...
    @property
    def handle(self) -> Optional[str]: ...
    @property
    def url(self) -> str: ...
    @property
    def dialect(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def max_concurrent_calls(self) -> int: ...
    @property
    def pool_addresses(self) -> List[str]: ...

class Cache:
    def __init__(self, native: _native.Cache) -> None: ...
    def __getitem__(self, cls: str) -> ClassView: ...
    def get(
        self, cls: str, ref: str, default: Optional[Dict[str, Any]] = ...
    ) -> Optional[Dict[str, Any]]: ...
    @property
    def classes(self) -> List[str]: ...
    async def next_change(self, timeout: Optional[float] = ...) -> Optional[Change]: ...
    def changes(self, timeout: Optional[float] = ...) -> AsyncIterator[Change]: ...
    def __aiter__(self) -> AsyncIterator[Change]: ...
    def status(self) -> Dict[str, Any]: ...
    @property
    def closed(self) -> bool: ...
    async def close(self) -> None: ...
    async def __aenter__(self) -> "Cache": ...
    async def __aexit__(self, *exc: Any) -> bool: ...

async def watch(
    session: Any,
    classes: Optional[Iterable[str]] = ...,
    *,
    poll_timeout: Optional[float] = ...,
    queue_capacity: Optional[int] = ...,
) -> Cache: ...
