#!/bin/sh
# Builds dist/bpf/svtrace.bpf.o (and a copy of its source for --show-program): vmlinux.h from this machine's
# BTF (bpftool; generated, not committed: CO-RE relocates the object to the kernel it loads on, so any recent
# BTF does, and a 2.8 MB generated header would only go stale in git), then Debian's clang for the BPF target.
set -eu
cd "$(dirname "$0")"
out=../dist/bpf
gen=.build
mkdir -p "$out" "$gen"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$gen/vmlinux.h"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -I"$gen" \
  -c svtrace.bpf.c -o "$gen/svtrace.bpf.o"
# DWARF off (half the size), BTF and its CO-RE relocations kept; renamed into place so a running load never
# reads a half-written object
llvm-strip -g "$gen/svtrace.bpf.o" -o "$gen/svtrace.bpf.o.stripped"
mv "$gen/svtrace.bpf.o.stripped" "$out/svtrace.bpf.o"
cp svtrace.bpf.c "$out/svtrace.bpf.c"
