"""The native module (Rust, PyO3): the core's Session and Client, and the dispatcher."""

import os
from typing import Any, Dict, List, Optional, Tuple, Union

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
        failover: bool = ...,
        max_concurrent_calls: Optional[int] = ...,
    ) -> None: ...
    def login_with_password(self, *params: str) -> None: ...
    def _set_call_timeout(self, seconds: Optional[float]) -> Optional[float]: ...
    @property
    def call_timeout(self) -> float: ...
    @property
    def max_concurrent_calls(self) -> int: ...
    @property
    def pool_addresses(self) -> List[str]: ...
    def wait_task(self, task: str, timeout: float, cancel: Optional["Cancel"] = ...) -> Any: ...
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

class Cancel:
    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...

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

class Snapshot:
    def get(self, cls: str, ref: str) -> Optional[Dict[str, Any]]: ...
    def refs(self, cls: str) -> List[str]: ...
    def records(self, cls: str) -> Dict[str, Dict[str, Any]]: ...
    def count(self, cls: str) -> int: ...

class Cache:
    def __init__(
        self,
        session: Session,
        classes: List[str],
        *,
        poll_timeout: Optional[float] = ...,
        queue_capacity: Optional[int] = ...,
    ) -> None: ...
    def snapshot(self) -> Snapshot: ...
    @property
    def classes(self) -> List[str]: ...
    def next_change(
        self, timeout: Optional[float] = ...
    ) -> Optional[Tuple[str, str, str, Optional[Dict[str, Any]]]]: ...
    def status(self) -> Dict[str, Any]: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...

# xenapi_rs.aio's backend: each settles `future` through `completions`, the queue of the
# future's loop; a Cancel ends the work.
class Completions:
    def __init__(self, wake_fileno: int) -> None: ...
    def drain(self) -> bool: ...

def aio_call(
    session: Session, method: str, args: Tuple[Any, ...], completions: Completions, future: Any
) -> Cancel: ...
def aio_login(
    session: Session, params: Tuple[Any, ...], completions: Completions, future: Any
) -> None: ...
def aio_logout(session: Session, completions: Completions, future: Any) -> None: ...
def aio_wait_task(
    session: Session,
    task: str,
    timeout: float,
    cancel: Cancel,
    completions: Completions,
    future: Any,
) -> None: ...
def aio_watch(
    session: Session,
    classes: List[str],
    poll_timeout: Optional[float],
    queue_capacity: Optional[int],
    completions: Completions,
    future: Any,
) -> None: ...
def aio_next_change(
    cache: Cache, timeout: Optional[float], completions: Completions, future: Any
) -> Cancel: ...
def aio_cache_close(cache: Cache, completions: Completions, future: Any) -> None: ...

# xenapi_rs.rrd's backend: plain tuples, made named tuples there.
_Row = Tuple[int, List[float]]
_Updates = Tuple[int, int, int, List[Tuple[str, str, str, str]], List[_Row]]
_Rrd = Tuple[
    int, int, List[Tuple[str, str, float, float]], List[Tuple[str, int, int, List[_Row]]]
]
_Usage = Tuple[
    List[Optional[float]],
    Optional[float],
    Optional[float],
    Optional[float],
    Optional[float],
    Optional[float],
    Optional[float],
    Optional[float],
]

def rrd_fetch_updates(
    session: Session,
    start: int,
    interval: Optional[int],
    cf: Optional[str],
    host: bool,
    vm_uuid: Optional[str],
    host_ref: Optional[str],
) -> _Updates: ...
def rrd_parse_updates(data: bytes) -> _Updates: ...
def rrd_fetch_host_rrd(session: Session) -> _Rrd: ...
def rrd_fetch_vm_rrd(session: Session, uuid: str) -> _Rrd: ...
def rrd_parse_rrd(data: bytes) -> _Rrd: ...
def rrd_vm_usage(session: Session, vm_uuid: str, minutes: float) -> _Usage: ...
def rrd_host_usage(session: Session, host_uuid: str, minutes: float) -> _Usage: ...

# xenapi_rs.transfer's backend: dest/source as that module checked them.
CHUNK: int

def transfer_export_vdi(
    session: Session, vdi: str, format_: str, dest: Any, progress: Any, cancel: Optional[Cancel],
    task: Optional[str], idle_timeout: Optional[float],
) -> int: ...
def transfer_import_vdi(
    session: Session, vdi: str, format_: str, source: Any, length: Optional[int], progress: Any,
    cancel: Optional[Cancel], task: Optional[str], idle_timeout: Optional[float],
) -> int: ...
def transfer_export_vm(
    session: Session, vm: str, compression_: Optional[str], dest: Any, progress: Any,
    cancel: Optional[Cancel], task: Optional[str], idle_timeout: Optional[float],
) -> int: ...
def transfer_import_vm(
    session: Session, source: Any, length: Optional[int], sr: Optional[str], progress: Any,
    cancel: Optional[Cancel], task: Optional[str], idle_timeout: Optional[float],
) -> List[str]: ...
def transfer_download(
    session: Session, path: str, query: List[Tuple[str, str]], dest: Any, progress: Any,
    cancel: Optional[Cancel], task: Optional[str], idle_timeout: Optional[float],
) -> Tuple[int, str]: ...
def transfer_upload(
    session: Session, path: str, query: List[Tuple[str, str]], source: Any, length: Optional[int],
    progress: Any, cancel: Optional[Cancel], task: Optional[str], idle_timeout: Optional[float],
) -> Tuple[int, str]: ...
