# Every binding against a hostile server (tests/hostile): 2 GiB replies, with a Content-Length,
# chunked, and a gzip bomb; each client must stop with the size error under 512 MiB resident.
#
#   make hostile-test   xenctl, the Python module, xm (C) and Xm.exe (C#), as their users run them

TEST_TARGETS += hostile-test

.PHONY: hostile-test

hostile-test: build python-install ffi-examples dotnet-build
	cd tests/hostile && XENCTL=$(abspath $(FFI_TARGET)/release/xenctl) C_XM=$(abspath $(FFI_OUT)/xm) \
	  DOTNET_XM=$(abspath $(DOTNET_OUT)/Xm.exe) MONO=$(MONO) PYTHON=$(PYTHON) $(DOTNET_ENV) \
	  $(PYTHON) -m pytest -q -s test_memory.py
