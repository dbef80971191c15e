/**
 * Where the live view goes, once a second: on a TTY the screen is redrawn in place (log-update, colour);
 * on a pipe plain lines are appended (log-update would emit cursor escapes there, DEPENDENCIES.md §2);
 * with --json one JSON snapshot per line.
 */
import type { Writable } from "node:stream";
import { createLogUpdate } from "log-update";
import type { LiveSnapshot } from "./model.js";
import { renderPlainLines, renderScreen } from "./screen.js";

export type DisplayMode = "screen" | "plain" | "json" | "none";

/** The mode for a command's --json flag and whether stdout is a terminal. */
export function displayModeFor(json: boolean, out: NodeJS.WriteStream = process.stdout): DisplayMode {
  if (json) return "json";
  return out.isTTY ? "screen" : "plain";
}

export class LiveDisplay {
  private readonly log?: ReturnType<typeof createLogUpdate>;

  constructor(
    readonly mode: DisplayMode,
    private readonly out: Writable & { rows?: number; isTTY?: boolean } = process.stdout,
    private readonly title?: string,
  ) {
    if (mode === "screen") this.log = createLogUpdate(out);
  }

  update(snap: LiveSnapshot): void {
    switch (this.mode) {
      case "json":
        this.out.write(`${JSON.stringify(snap)}\n`);
        break;
      case "plain":
        this.out.write(`${renderPlainLines(snap).join("\n")}\n`);
        break;
      case "screen":
        this.log?.(renderScreen(snap, { color: true, rows: this.out.rows, title: this.title }));
        break;
      case "none":
        break;
    }
  }

  /** Leave the last screen on the terminal (screen mode); nothing to do otherwise. */
  done(): void {
    this.log?.done();
  }
}
