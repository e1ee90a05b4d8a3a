from typing import Iterable, List, NamedTuple, Optional, Tuple, Union

from ._session import Session

__all__: List[str]

class Column(NamedTuple):
    cf: str
    kind: str
    uuid: str
    name: str

class Row(NamedTuple):
    time: int
    values: List[float]

class Updates:
    start: int
    end: int
    step: int
    columns: List[Column]
    rows: List[Row]
    def __init__(
        self, start: int, end: int, step: int, columns: List[Column], rows: List[Row]
    ) -> None: ...
    def column(self, kind: str, uuid: str, name: str, cf: str = ...) -> Optional[int]: ...
    def series(self, col: Union[int, Column]) -> List[Tuple[int, float]]: ...
    def objects(self) -> List[Tuple[str, str]]: ...

class DataSource(NamedTuple):
    name: str
    type: str
    min: float
    max: float

class Archive(NamedTuple):
    cf: str
    pdp_per_row: int
    step: int
    rows: List[Row]

class Rrd(NamedTuple):
    step: int
    last_update: int
    sources: List[DataSource]
    archives: List[Archive]
    def source(self, name: str) -> Optional[int]: ...
    def finest(self, cf: str = ...) -> Optional[Archive]: ...

class Usage(NamedTuple):
    cpus: List[Optional[float]]
    memory_total: Optional[float]
    memory_free: Optional[float]
    memory_used: Optional[float]
    disk_read: Optional[float]
    disk_write: Optional[float]
    net_rx: Optional[float]
    net_tx: Optional[float]
    @property
    def cpu_average(self) -> Optional[float]: ...

def fetch_updates(
    session: Session,
    start: int = ...,
    interval: Optional[int] = ...,
    cf: Optional[str] = ...,
    host: bool = ...,
    vm_uuid: Optional[str] = ...,
    host_ref: Optional[str] = ...,
) -> Updates: ...
def parse_updates(data: Union[bytes, bytearray, memoryview, Iterable[int]]) -> Updates: ...
def fetch_host_rrd(session: Session) -> Rrd: ...
def fetch_vm_rrd(session: Session, uuid: str) -> Rrd: ...
def parse_rrd(data: Union[bytes, bytearray, memoryview, Iterable[int]]) -> Rrd: ...
def vm_usage(session: Session, vm_uuid: str, minutes: float = ...) -> Usage: ...
def host_usage(session: Session, host_uuid: str, minutes: float = ...) -> Usage: ...
