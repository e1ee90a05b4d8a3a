import os
from typing import Callable, Iterable, List, Mapping, Optional, Protocol, Tuple, Union

from ._native import Cancel
from ._session import Session

__all__: List[str]

CHUNK: int

class _Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...

class _Reader(Protocol):
    def read(self, size: int, /) -> Optional[bytes]: ...

_BytesLike = Union[bytes, bytearray, memoryview]
Dest = Union[str, "os.PathLike[str]", _Writer]
Source = Union[str, "os.PathLike[str]", _Reader, Iterable[_BytesLike]]
ProgressFn = Callable[[int, Optional[int]], Optional[bool]]
Query = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]

def export_vdi(
    session: Session,
    vdi: str,
    dest: Dest,
    format: str = ...,
    progress: Optional[ProgressFn] = ...,
    cancel: Optional[Cancel] = ...,
    task: Optional[str] = ...,
    idle_timeout: Optional[float] = ...,
) -> int: ...
def import_vdi(
    session: Session,
    vdi: str,
    source: Source,
    format: str = ...,
    progress: Optional[ProgressFn] = ...,
    cancel: Optional[Cancel] = ...,
    task: Optional[str] = ...,
    idle_timeout: Optional[float] = ...,
) -> int: ...
def export_vm(
    session: Session,
    vm: str,
    dest: Dest,
    compression: Union[str, bool, None] = ...,
    progress: Optional[ProgressFn] = ...,
    cancel: Optional[Cancel] = ...,
    task: Optional[str] = ...,
    idle_timeout: Optional[float] = ...,
) -> int: ...
def import_vm(
    session: Session,
    source: Source,
    sr: Optional[str] = ...,
    progress: Optional[ProgressFn] = ...,
    cancel: Optional[Cancel] = ...,
    task: Optional[str] = ...,
    idle_timeout: Optional[float] = ...,
) -> List[str]: ...
def download(
    session: Session,
    path: str,
    query: Query,
    dest: Dest,
    progress: Optional[ProgressFn] = ...,
    cancel: Optional[Cancel] = ...,
    task: Optional[str] = ...,
    idle_timeout: Optional[float] = ...,
) -> int: ...
def upload(
    session: Session,
    path: str,
    query: Query,
    source: Source,
    progress: Optional[ProgressFn] = ...,
    cancel: Optional[Cancel] = ...,
    task: Optional[str] = ...,
    idle_timeout: Optional[float] = ...,
) -> int: ...
