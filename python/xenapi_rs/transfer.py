"""Disks and VMs in and out: xapi's HTTP transfers beside the API, streamed both ways.

::

    from xenapi_rs import transfer

    transfer.export_vdi(session, vdi, "disk.raw")                      # a path
    with open("disk.vhd", "rb") as f:
        transfer.import_vdi(session, vdi, f, format="vhd")              # a file object
    transfer.import_vdi(session, vdi, (chunk for chunk in chunks()))   # an iterable of bytes
    transfer.export_vm(session, vm, "web.xva", compression="zstd")
    [new_vm] = transfer.import_vm(session, "web.xva", sr=sr)

``dest`` is a path (``str`` or ``os.PathLike``) or a binary file object with ``write()``;
``source`` a path, a binary file object with ``read()`` or an iterable of bytes-like objects.
Every function takes, by keyword:

* ``progress``: a callable ``(done, total)`` (bytes; ``total`` ``None`` when unknown), called as
  bytes move (at most once a MiB, and at the end); returning ``False`` cancels;
* ``cancel``: a :class:`xenapi_rs.Cancel`; ``cancel.cancel()`` from any thread cancels;
* ``task``: a task you made with ``task.create`` and watch (you destroy it); by default each
  transfer makes its own and destroys it at the end;
* ``idle_timeout``: seconds the server may stay silent before :class:`xenapi_rs.Timeout`
  (default: the session's call deadline). A transfer as a whole has no deadline.

The transfer is the Rust core's (``xenapi::transfer``): it follows xapi's redirects to the host
that holds the disk, never sends a chunked body (xapi refuses them), and uses one buffer of a
MiB whatever the size. The GIL is released while bytes move (taken for each call of your file
object, iterator or callable). A cancelled transfer cancels its task and raises
:class:`xenapi_rs.Failure` ``TASK_CANCELLED``, like any other API failure, with the disk left
as it was; Ctrl-C cancels the same way (and the ``cancel`` given, if any), then raises
``KeyboardInterrupt``. An exception raised
by your ``write()``, ``read()``, iterator or ``progress`` stops the transfer and is raised as is.
A download into a path that fails removes the partial file.
"""

import io
import os

from . import _native

__all__ = [
    "download",
    "export_vdi",
    "export_vm",
    "import_vdi",
    "import_vm",
    "upload",
]

#: Bytes moved per read or write: a transfer's whole buffer.
CHUNK = _native.CHUNK


def _native_session(session):
    native = getattr(session, "_native", session)
    if not isinstance(native, _native.Session):
        raise TypeError("expected a xenapi_rs.Session, not %s" % type(session).__name__)
    return native


def _dest(dest):
    if isinstance(dest, (str, os.PathLike)):
        path = os.fspath(dest)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return path
    if not callable(getattr(dest, "write", None)):
        raise TypeError("dest must be a path or a binary file object with write(), not %s"
                        % type(dest).__name__)
    if isinstance(dest, io.TextIOBase):
        raise TypeError("dest must be opened in binary mode ('wb')")
    return dest


def _source(source):
    """The source for the native module, and its length when Python can tell it."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return path, None
    if isinstance(source, io.TextIOBase):
        raise TypeError("source must be opened in binary mode ('rb')")
    if callable(getattr(source, "read", None)):
        return source, _remaining(source)
    return source, None


def _remaining(f):
    """Bytes left in a seekable file object, or None."""
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here, io.SEEK_SET)
        return max(end - here, 0)
    except (AttributeError, OSError, ValueError):
        return None


def _check_progress(progress):
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable (done, total)")
    return progress


def export_vdi(session, vdi, dest, format="raw", progress=None, cancel=None, task=None,
               idle_timeout=None):
    """A disk's content (``/export_raw_vdi``) into ``dest``, as ``raw`` or ``vhd``. ``vdi`` is a
    reference or a UUID. Returns the bytes moved."""
    return _native.transfer_export_vdi(
        _native_session(session), vdi, format, _dest(dest), _check_progress(progress), cancel,
        task, idle_timeout)


def import_vdi(session, vdi, source, format="raw", progress=None, cancel=None, task=None,
               idle_timeout=None):
    """Replaces a disk's content (``/import_raw_vdi``) from ``source``, ``raw`` or ``vhd``. On a
    failure or a cancel the server leaves the disk as it was. Returns the bytes moved."""
    src, length = _source(source)
    return _native.transfer_import_vdi(
        _native_session(session), vdi, format, src, length, _check_progress(progress), cancel,
        task, idle_timeout)


def _compression(compression):
    if compression is None or compression is False:
        return None
    if compression is True:
        return "gzip"
    return str(compression)


def export_vm(session, vm, dest, compression=None, progress=None, cancel=None, task=None,
              idle_timeout=None):
    """A VM as an XVA (``/export``) into ``dest``; ``compression``: ``None``, ``"gzip"`` (or
    ``True``) or ``"zstd"``. ``vm`` is a reference or a UUID. Returns the bytes moved."""
    return _native.transfer_export_vm(
        _native_session(session), vm, _compression(compression), _dest(dest),
        _check_progress(progress), cancel, task, idle_timeout)


def import_vm(session, source, sr=None, progress=None, cancel=None, task=None,
              idle_timeout=None):
    """Imports an XVA (``/import``) into ``sr`` (a reference; the pool's default SR when
    ``None``). Returns the new VMs' references."""
    src, length = _source(source)
    return _native.transfer_import_vm(
        _native_session(session), src, length, sr, _check_progress(progress), cancel, task,
        idle_timeout)


def _query(query):
    if query is None:
        return []
    items = query.items() if hasattr(query, "items") else query
    return [(str(k), str(v)) for k, v in items]


def download(session, path, query, dest, progress=None, cancel=None, task=None,
             idle_timeout=None):
    """GETs any handler beside the API (``path`` such as ``"/export_raw_vdi"``, ``query`` a dict
    or pairs, without ``session_id`` and ``task_id``, which the transfer adds) into ``dest``.
    Returns the bytes moved."""
    moved, _result = _native.transfer_download(
        _native_session(session), path, _query(query), _dest(dest), _check_progress(progress),
        cancel, task, idle_timeout)
    return moved


def upload(session, path, query, source, progress=None, cancel=None, task=None,
           idle_timeout=None):
    """PUTs ``source`` to any handler beside the API (see :func:`download`). Returns the bytes
    moved."""
    src, length = _source(source)
    moved, _result = _native.transfer_upload(
        _native_session(session), path, _query(query), src, length, _check_progress(progress),
        cancel, task, idle_timeout)
    return moved
