"""The platforms xenapi_rs has wheels for, and the error ``import xenapi_rs`` raises elsewhere.

The package is pure Python around one compiled module, ``xenapi_rs._native``. When that module
cannot load (a wheel for another platform, a build that left it out, a C library too old), the
loader's own message names a file; this one names the platform and what to install instead.
"""

import platform
import sys
import sysconfig

#: The published wheels, all ``abi3`` (one wheel serves CPython 3.8 and later): the platform
#: each is for, and its platform tag.
WHEELS = (
    ("Linux x86_64 with glibc 2.17 or later", "manylinux_2_17_x86_64"),
    ("Linux aarch64 (arm64) with glibc 2.17 or later", "manylinux_2_17_aarch64"),
    ("Windows x86_64", "win_amd64"),
)


def this_platform() -> str:
    """This interpreter and platform, as a person would name them, with the platform tag."""
    libc, libc_version = platform.libc_ver()
    system = platform.system() or sys.platform
    if libc:
        system += " (%s %s)" % (libc, libc_version)
    return "%s %s, %s %s, platform tag %s" % (
        system,
        platform.machine() or "of unknown architecture",
        platform.python_implementation(),
        platform.python_version(),
        sysconfig.get_platform().replace("-", "_").replace(".", "_"),
    )


def native_module_error(cause: BaseException) -> ImportError:
    """The ImportError for a ``xenapi_rs._native`` that failed to load with ``cause``."""
    wheels = "; ".join("%s (%s)" % w for w in WHEELS)
    message = (
        "xenapi_rs cannot load its compiled module xenapi_rs._native (%s). This is %s. "
        "Wheels exist for CPython 3.8 or later on: %s; pip picks the one for its platform. "
        "On any other platform pip builds the package from its source distribution, which "
        "needs Rust (rustup.rs); to build it here: "
        "pip install --force-reinstall --no-binary xenapi-rs xenapi-rs"
        % (cause, this_platform(), wheels)
    )
    return ImportError(message, name="xenapi_rs._native")
