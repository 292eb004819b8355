import WebSocket from 'ws';
import type { WebSocketConstructor } from '@vigil/client';

export interface RecordedSocket extends WebSocket {
  /** Every text message the client sent on this socket. */
  readonly sent: string[];
}

/** A `ws` WebSocket class that remembers its instances and what they sent. */
export function recordingWebSocket(): { WebSocket: WebSocketConstructor; sockets: RecordedSocket[] } {
  const sockets: RecordedSocket[] = [];
  class Recorded extends WebSocket implements RecordedSocket {
    readonly sent: string[] = [];
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
    override send(data: unknown, ...rest: unknown[]): void {
      this.sent.push(String(data));
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }
  return { WebSocket: Recorded as unknown as WebSocketConstructor, sockets };
}

/** The parsed messages of a given type that the client sent on `socket`. */
export function sentOfType(socket: RecordedSocket, type: string): Record<string, unknown>[] {
  return socket.sent.map((s) => JSON.parse(s) as Record<string, unknown>).filter((m) => m.type === type);
}
