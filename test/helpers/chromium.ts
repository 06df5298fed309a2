// Headless Chromium driven over the Chrome DevTools Protocol through --remote-debugging-pipe (messages are JSON
// texts ended by a NUL byte, read from the browser's fd 4 and written to its fd 3), so a browser test needs no npm
// package, no port and no downloaded browser: it uses the system's chromium (scripts/install-system-deps.sh installs
// Debian's). Tests only.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

interface Message { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string }

export class Browser {
  private next = 1;
  private pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private listeners: ((m: Message) => void)[] = [];
  private buffer = '';

  private constructor(private readonly proc: ChildProcess, private readonly profile: string) {
    const out = proc.stdio[4] as Readable;
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const m = JSON.parse(this.buffer.slice(0, end)) as Message;
        this.buffer = this.buffer.slice(end + 1);
        if (m.id !== undefined && this.pending.has(m.id)) {
          const p = this.pending.get(m.id)!;
          this.pending.delete(m.id);
          if (m.error) p.reject(new Error(m.error.message)); else p.resolve(m.result ?? {});
        } else {
          for (const l of this.listeners) l(m);
        }
      }
    });
  }

  static launch(width = 1200, height = 900): Browser {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: install Debian's chromium (bash scripts/install-system-deps.sh, as root) or set CHROMIUM to a Chromium binary`);
    }
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ssmae-chromium-'));
    const proc = spawn(CHROMIUM, [
      '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
      '--disable-extensions', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', `--user-data-dir=${profile}`, `--window-size=${width},${height}`, 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    proc.stderr!.resume(); // chromium's own log lines (D-Bus, GPU) are not the page's console
    return new Browser(proc, profile);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.next++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    (this.proc.stdio[3] as Writable).write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return p;
  }

  on(listener: (m: Message) => void): void { this.listeners.push(listener); }

  /** Resolves with the first event of this method (in this session) that arrives from now on. */
  waitFor(method: string, sessionId?: string, timeoutMs = 20000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
      this.on((m) => {
        if (m.method === method && (!sessionId || m.sessionId === sessionId)) { clearTimeout(timer); resolve(m); }
      });
    });
  }

  /** A new page with the Runtime, Log, Network and Page domains enabled; returns its session id. */
  async newPage(): Promise<string> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
    for (const domain of ['Runtime', 'Log', 'Network', 'Page']) await this.send(`${domain}.enable`, {}, sessionId);
    return sessionId;
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return void fs.rmSync(this.profile, { recursive: true, force: true });
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    try { await Promise.race([this.send('Browser.close'), new Promise((r) => setTimeout(r, 3000))]); } catch { /* already gone */ }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}
