#!/bin/sh
# Builds bpf/svtrace.bpf.o: vmlinux.h from this machine's BTF (bpftool), then Debian's clang for the BPF target.
set -eu
cd "$(dirname "$0")"
out=../dist/bpf
mkdir -p "$out"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$out/vmlinux.h"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -I"$out" \
  -c svtrace.bpf.c -o "$out/svtrace.bpf.o"
cp svtrace.bpf.c "$out/svtrace.bpf.c"
