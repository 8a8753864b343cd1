#!/bin/sh
# Compile the smoke-run sample programs for x86_64 and aarch64 into OUT/<arch>/
# (default OUT: build/apps under the project root). Needs gcc, g++,
# aarch64-linux-gnu-gcc and aarch64-linux-gnu-g++ (Debian: gcc g++
# gcc-aarch64-linux-gnu g++-aarch64-linux-gnu).
#   hello         dynamically linked C (libc.so.6)
#   hello-static  statically linked C
#   hello-cxx     dynamically linked C++ (libstdc++.so.6, libgcc_s.so.1, libm, libc)
#   exitcode      prints and exits with its first argument
#   sleeper       sleeps for its first argument in seconds (default 3600)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/apps}
CFLAGS="-O2 -Wall -Werror"
for arch in x86_64 aarch64; do
    if [ "$arch" = x86_64 ]; then cc=gcc; cxx=g++; else cc=aarch64-linux-gnu-gcc; cxx=aarch64-linux-gnu-g++; fi
    dir="$out/$arch"
    mkdir -p "$dir"
    $cc $CFLAGS -o "$dir/hello.tmp" "$here/hello.c" && mv "$dir/hello.tmp" "$dir/hello"
    $cc $CFLAGS -static -o "$dir/hello-static.tmp" "$here/hello.c" && mv "$dir/hello-static.tmp" "$dir/hello-static"
    $cxx $CFLAGS -o "$dir/hello-cxx.tmp" "$here/hello.cc" && mv "$dir/hello-cxx.tmp" "$dir/hello-cxx"
    $cc $CFLAGS -o "$dir/exitcode.tmp" "$here/exitcode.c" && mv "$dir/exitcode.tmp" "$dir/exitcode"
    $cc $CFLAGS -o "$dir/sleeper.tmp" "$here/sleeper.c" && mv "$dir/sleeper.tmp" "$dir/sleeper"
done
