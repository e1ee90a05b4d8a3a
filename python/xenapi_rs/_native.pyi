"""The native module (Rust, PyO3): the core's Session and Client, and the dispatcher."""

import os
from typing import Any, Optional, Tuple, Union

__version__: str

class Session:
    def __init__(
        self,
        url: str,
        *,
        insecure: bool = ...,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = ...,
        fingerprint: Optional[str] = ...,
        timeout: Optional[float] = ...,
        connect_timeout: Optional[float] = ...,
        follow_coordinator: bool = ...,
        version: Optional[str] = ...,
        originator: Optional[str] = ...,
        protocol: str = ...,
        max_response_bytes: Optional[int] = ...,
    ) -> None: ...
    def login_with_password(self, *params: str) -> None: ...
    def logout(self) -> None: ...
    def call(self, method: str, args: Tuple[Any, ...]) -> Any: ...
    def call_raw(self, method: str, args: Tuple[Any, ...]) -> Any: ...
    @property
    def handle(self) -> Optional[str]: ...
    @property
    def is_logged_in(self) -> bool: ...
    @property
    def url(self) -> str: ...
    @property
    def dialect(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    _api_version: Optional[str]

class Client:
    def __init__(
        self,
        url: str,
        *,
        insecure: bool = ...,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = ...,
        fingerprint: Optional[str] = ...,
        timeout: Optional[float] = ...,
        connect_timeout: Optional[float] = ...,
    ) -> None: ...
    def call_raw(self, method: str, args: Tuple[Any, ...]) -> Any: ...
    @property
    def url(self) -> str: ...

class Dispatcher:
    def __init__(self, target: Union[Session, Client], raw: bool = ...) -> None: ...
    def __getattr__(self, name: str) -> "Dispatcher": ...
    def __call__(self, *args: Any) -> Any: ...
