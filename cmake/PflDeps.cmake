# Third-party libraries, found the way DEPENDENCIES.md says works on
# Debian bookworm: pkg-config for libsodium, msgpack-c and cmocka, the CMake
# config package for nng (which ships no .pc file).
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)
pkg_check_modules(MSGPACK REQUIRED IMPORTED_TARGET msgpack>=4.0)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka>=1.1.5)
find_package(nng 1.5.2 CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)

# OpenBLAS is optional: the training engine has its own kernels.
pkg_check_modules(OPENBLAS IMPORTED_TARGET openblas)
