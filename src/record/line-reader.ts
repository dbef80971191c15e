/**
 * Lines of a text file, read chunk by chunk with a bounded buffer (never the whole file), numbered from 1.
 * A final line without a newline is still returned; `\r\n` line ends are accepted.
 */
import { ChunkedFile } from "./chunked-file.js";

export class LineReader {
  private readonly file: ChunkedFile;
  private readonly decoder = new TextDecoder("utf-8");
  lineNo = 0;

  constructor(readonly path: string) {
    this.file = new ChunkedFile(path);
  }

  get size(): number {
    return this.file.size;
  }
  get bytesRead(): number {
    return this.file.position;
  }

  /** Each line (without its line end) with its number in `lineNo`. */
  *lines(): Generator<string> {
    let rest = "";
    for (;;) {
      const chunk = this.file.takeChunk();
      if (chunk.byteLength === 0) break;
      const text = rest + this.decoder.decode(chunk, { stream: true });
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl < 0) break;
        let end = nl;
        if (end > start && text.charCodeAt(end - 1) === 13) end--;
        this.lineNo++;
        yield text.slice(start, end);
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    rest += this.decoder.decode();
    if (rest.length > 0) {
      this.lineNo++;
      yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
    }
  }

  /** The first line of a file (for sniffing formats), or "" for an empty file. Reads at most 64 KiB. */
  static firstLine(path: string): string {
    const f = new ChunkedFile(path);
    try {
      const n = f.ensure(65536);
      const text = new TextDecoder().decode(f.take(n));
      const nl = text.indexOf("\n");
      return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, "");
    } finally {
      f.close();
    }
  }

  close(): void {
    this.file.close();
  }
}
