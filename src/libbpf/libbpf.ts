/**
 * The libbpf calls svtrace's libbpf backend needs, bound through koffi from Debian's libbpf1 (`libbpf.so.1`,
 * no native build). Bound lazily: `loadLibbpf()` fails with one line when the library is missing.
 */
import koffi from "koffi";
import { fail } from "../errors.js";

export type Ptr = unknown;

export interface Libbpf {
  openFile(path: string, opts: Ptr): Ptr;
  findMap(obj: Ptr, name: string): Ptr;
  findProgram(obj: Ptr, name: string): Ptr;
  setAutoload(prog: Ptr, on: boolean): number;
  setMaxEntries(map: Ptr, n: number): number;
  initialValue(map: Ptr, size: number[]): Ptr;
  load(obj: Ptr): number;
  close(obj: Ptr): void;
  attachRawTracepoint(prog: Ptr, name: string): Ptr;
  linkDestroy(link: Ptr): number;
  programFd(prog: Ptr): number;
  mapFd(map: Ptr): number;
  mapMaxEntries(map: Ptr): number;
  mapUpdate(map: Ptr, key: Buffer, ksz: number, value: Buffer, vsz: number, flags: bigint): number;
  mapNextKey(map: Ptr, cur: Buffer | null, next: Buffer, ksz: number): number;
  mapLookup(map: Ptr, key: Buffer, ksz: number, value: Buffer, vsz: number, flags: bigint): number;
  setPrint(fn: Ptr): Ptr;
}

let bound: Libbpf | undefined;

/** Bind libbpf.so.1 (SVTRACE_LIBBPF overrides the path, for tests of the error path). */
export function loadLibbpf(): Libbpf {
  if (bound) return bound;
  const path = process.env.SVTRACE_LIBBPF ?? "libbpf.so.1";
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (e) {
    fail(
      `cannot load ${path} (${(e as Error).message.split("\n")[0]}): install Debian's libbpf1, or use --backend bpftrace`,
    );
  }
  const f = (sig: string) => lib.func(sig);
  bound = {
    openFile: f("void *bpf_object__open_file(const char *path, void *opts)"),
    findMap: f("void *bpf_object__find_map_by_name(void *obj, const char *name)"),
    findProgram: f("void *bpf_object__find_program_by_name(void *obj, const char *name)"),
    setAutoload: f("int bpf_program__set_autoload(void *prog, bool autoload)"),
    setMaxEntries: f("int bpf_map__set_max_entries(void *map, uint32 n)"),
    initialValue: f("void *bpf_map__initial_value(void *map, _Out_ size_t *psize)"),
    load: f("int bpf_object__load(void *obj)"),
    close: f("void bpf_object__close(void *obj)"),
    attachRawTracepoint: f("void *bpf_program__attach_raw_tracepoint(void *prog, const char *name)"),
    linkDestroy: f("int bpf_link__destroy(void *link)"),
    programFd: f("int bpf_program__fd(void *prog)"),
    mapFd: f("int bpf_map__fd(void *map)"),
    mapMaxEntries: f("uint32 bpf_map__max_entries(void *map)"),
    mapUpdate: f(
      "int bpf_map__update_elem(void *map, const void *key, size_t ksz, const void *value, size_t vsz, uint64 flags)",
    ),
    mapNextKey: f("int bpf_map__get_next_key(void *map, const void *cur, _Out_ void *next, size_t ksz)"),
    mapLookup: f(
      "int bpf_map__lookup_elem(void *map, const void *key, size_t ksz, _Out_ void *value, size_t vsz, uint64 flags)",
    ),
    setPrint: f("void *libbpf_set_print(void *fn)"),
  } as unknown as Libbpf;
  return bound;
}
