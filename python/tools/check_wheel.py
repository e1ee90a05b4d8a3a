"""check_wheel.py WHEEL PLATFORM: what a publishable xenapi-rs wheel must be, checked on its file.

- at most 8 MB, with the compiled module, the type stubs and the simulator for its platform
  (under the name xenapi_rs.testing looks for there);
- every binary stripped: no symbol table and no debug sections;
- manylinux: ``auditwheel show`` finds it consistent with the tag it claims (so it uses no newer
  glibc symbol and no library outside the manylinux set);
- win_amd64: the module imports only python3.dll (the stable ABI, any CPython 3.8+) and system
  DLLs, the simulator only system DLLs (x86_64-w64-mingw32-objdump -p): no MinGW runtime DLL;
- ``twine check``: PyPI would take its metadata.

Exits non-zero with a sentence per failure; prints one line per check that passed.
"""

import importlib.util
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile

MAX_BYTES = 8_000_000

# DLLs every Windows has (the Rust standard library's and ring's needs), by lower-case name.
SYSTEM_DLLS = {
    "advapi32.dll", "bcrypt.dll", "bcryptprimitives.dll", "crypt32.dll", "kernel32.dll",
    "ntdll.dll", "ole32.dll", "oleaut32.dll", "secur32.dll", "shell32.dll", "user32.dll",
    "userenv.dll", "ws2_32.dll", "msvcrt.dll", "ucrtbase.dll",
}

failures = []


def fail(message):
    failures.append(message)


def passed(message):
    print("check_wheel: " + message)


def run(*cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout


def elf_unstripped_sections(path):
    """The sections of an ELF file that stripping removes (.symtab, .debug_*)."""
    code, out = run("readelf", "-S", "-W", path)
    if code != 0:
        fail("readelf cannot read %s: %s" % (path, out.strip()))
        return []
    names = re.findall(r"\]\s+(\S+)", out)
    # .debug_gdb_scripts is loaded with the program (gdb pretty-printers), not debug info.
    return [n for n in names if n == ".symtab"
            or (n.startswith((".debug", ".zdebug")) and n != ".debug_gdb_scripts")]


def pe_unstripped_parts(path):
    """What stripping removes from a PE file: its COFF symbol table and .debug_* sections."""
    with open(path, "rb") as f:
        data = f.read(4096)
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    symbols_at, symbols = struct.unpack_from("<II", data, pe + 12)
    parts = ["a symbol table of %d entries" % symbols] if symbols_at and symbols else []
    code, out = run("x86_64-w64-mingw32-objdump", "-h", path)
    parts += re.findall(r"^\s*\d+\s+(\.z?debug\S*)", out, re.M)
    return parts


def pe_imports(path):
    code, out = run("x86_64-w64-mingw32-objdump", "-p", path)
    if code != 0:
        fail("x86_64-w64-mingw32-objdump cannot read %s: %s" % (path, out.strip()))
    return [name.lower() for name in re.findall(r"DLL Name:\s*(\S+)", out)]


def shipped_simulator_name(wheel, windows):
    """bin/'s simulator as the wheel's own xenapi_rs.testing names it on that platform."""
    with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory() as tmp:
        spec = importlib.util.spec_from_file_location(
            "wheel_testing", z.extract("xenapi_rs/testing.py", tmp))
        testing = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(testing)
    return "xenapi_rs/bin/" + testing.simulator_filename("win32" if windows else "linux")


def main(wheel, platform):
    size = os.path.getsize(wheel)
    if size > MAX_BYTES:
        fail("%s is %d bytes, over the %d a wheel may have" % (wheel, size, MAX_BYTES))
    else:
        passed("%.1f MB, at most %.0f MB" % (size / 1e6, MAX_BYTES / 1e6))
    windows = platform.startswith("win")
    module = "xenapi_rs/_native.pyd" if windows else "xenapi_rs/_native.abi3.so"
    sim = shipped_simulator_name(wheel, windows)
    with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory() as tmp:
        names = set(z.namelist())
        for needed in (module, sim, "xenapi_rs/__init__.py", "xenapi_rs/_api.pyi",
                       "xenapi_rs/py.typed", "xenapi_rs/testing.py"):
            if needed not in names:
                fail("%s has no %s" % (wheel, needed))
        binaries = [n for n in (module, sim) if n in names]
        for name in binaries:
            path = z.extract(name, tmp)
            left = pe_unstripped_parts(path) if windows else elf_unstripped_sections(path)
            if left:
                fail("%s is not stripped: it has %s" % (name, ", ".join(left)))
            else:
                passed("%s stripped (%.1f MB)" % (name, os.path.getsize(path) / 1e6))
            if windows:
                allowed = SYSTEM_DLLS | ({"python3.dll"} if name == module else set())
                imports = pe_imports(path)
                other = [d for d in imports if d not in allowed and not d.startswith("api-ms-win-")]
                if other:
                    fail("%s imports DLLs that are not python3.dll nor Windows' own: %s"
                         % (name, ", ".join(other)))
                elif name == module and "python3.dll" not in imports:
                    fail("%s does not import python3.dll (the stable ABI)" % name)
                else:
                    passed("%s imports only %s" % (name, ", ".join(sorted(imports))))

    if platform.startswith("manylinux"):
        code, out = run(sys.executable, "-m", "auditwheel", "show", wheel)
        flat = " ".join(out.split())
        if code != 0 or ('platform tag: "%s"' % platform) not in flat:
            fail("auditwheel show does not find %s consistent with %s:\n%s" % (wheel, platform, out))
        else:
            passed("auditwheel show: consistent with %s" % platform)

    code, out = run(sys.executable, "-m", "twine", "check", "--strict", wheel)
    if code != 0:
        fail("twine check refuses %s:\n%s" % (wheel, out))
    else:
        passed("twine check --strict: PASSED")

    for message in failures:
        print("check_wheel: FAILED: " + message, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: check_wheel.py WHEEL PLATFORM (e.g. manylinux_2_17_x86_64, win_amd64)")
    sys.exit(main(sys.argv[1], sys.argv[2]))
