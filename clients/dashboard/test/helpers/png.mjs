// Small, real PNG frames for the tests: a synthetic CCTV still (room, people,
// the detector's boxes, an on-screen caption), encoded with node:zlib and a
// hand-rolled CRC-32 (zlib.crc32 is not in Node 18).
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** RGB pixels (width·height·3 bytes) → PNG bytes. */
export function encodePng(width, height, rgb) {
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    rgb.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// 3×5 pixel font for captions.
const GLYPHS = {
  0: '111101101101111', 1: '010110010010111', 2: '111001111100111', 3: '111001111001111', 4: '101101111001001',
  5: '111100111001111', 6: '111100111101111', 7: '111001001001001', 8: '111101111101111', 9: '111101111001111',
  A: '010101111101101', B: '110101110101110', C: '011100100100011', D: '110101101101110', E: '111100110100111',
  F: '111100110100100', G: '011100101101011', H: '101101111101101', I: '111010010010111', J: '001001001101010',
  K: '101101110101101', L: '100100100100111', M: '101111111101101', N: '110101101101101', O: '010101101101010',
  P: '110101110100100', Q: '010101101110011', R: '110101110101101', S: '011100010001110', T: '111010010010010',
  U: '101101101101111', V: '101101101101010', W: '101101111111101', X: '101101010101101', Y: '101101010010010',
  Z: '111001010100111', '-': '000000111000000', ':': '000010000010000', '.': '000000000000010',
  '%': '101001010100101', _: '000000000000111', ' ': '000000000000000',
};

class Canvas {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.px = Buffer.alloc(width * height * 3);
  }
  set(x, y, [r, g, b], alpha = 1) {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.px[i] = Math.round(this.px[i] * (1 - alpha) + r * alpha);
    this.px[i + 1] = Math.round(this.px[i + 1] * (1 - alpha) + g * alpha);
    this.px[i + 2] = Math.round(this.px[i + 2] * (1 - alpha) + b * alpha);
  }
  rect(x, y, w, h, color, alpha = 1) {
    for (let j = Math.max(0, y); j < Math.min(this.height, y + h); j++)
      for (let i = Math.max(0, x); i < Math.min(this.width, x + w); i++) this.set(i, j, color, alpha);
  }
  stroke(x, y, w, h, color, t = 2) {
    this.rect(x, y, w, t, color);
    this.rect(x, y + h - t, w, t, color);
    this.rect(x, y, t, h, color);
    this.rect(x + w - t, y, t, h, color);
  }
  ellipse(cx, cy, rx, ry, color) {
    for (let j = Math.floor(cy - ry); j <= cy + ry; j++)
      for (let i = Math.floor(cx - rx); i <= cx + rx; i++)
        if (((i - cx) / rx) ** 2 + ((j - cy) / ry) ** 2 <= 1) this.set(i, j, color);
  }
  text(x, y, str, color, scale = 2) {
    for (const ch of str.toUpperCase()) {
      const g = GLYPHS[ch] ?? GLYPHS[' '];
      for (let r = 0; r < 5; r++)
        for (let c = 0; c < 3; c++) if (g[r * 3 + c] === '1') this.rect(x + c * scale, y + r * scale, scale, scale, color);
      x += 4 * scale;
    }
    return x;
  }
}

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const mix = (a, b, t) => a.map((v, i) => v + (b[i] - v) * t);

/**
 * A 320×180 CCTV-like frame: `boxes` ({x,y,w,h} in frame pixels) each get a
 * person-ish figure, an outline and a label; the stream name and time are
 * burnt in like a camera overlay.
 */
export function makeFrame({ seed = 1, stream = 'CAM-1', label = 'ALERT', confidence = 0.9, boxes = [], wall = [74, 86, 104], floor = [58, 62, 70], time = new Date() }) {
  const W = 320;
  const H = 180;
  const c = new Canvas(W, H);
  const random = rng(seed);
  const horizon = 112;
  for (let y = 0; y < H; y++) {
    const color = y < horizon ? mix(wall, mix(wall, [0, 0, 0], 0.35), y / horizon) : mix(floor, mix(floor, [255, 255, 255], 0.12), (y - horizon) / (H - horizon));
    for (let x = 0; x < W; x++) c.set(x, y, color);
  }
  // Floor tiles in perspective, a door, two windows.
  for (let k = -6; k <= 6; k++) {
    for (let y = horizon; y < H; y++) {
      const x = W / 2 + k * 26 * (1 + ((y - horizon) / (H - horizon)) * 2.2);
      c.set(x, y, mix(floor, [0, 0, 0], 0.25));
    }
  }
  const door = 30 + Math.floor(random() * 200);
  c.rect(door, 40, 38, horizon - 40, mix(wall, [20, 24, 30], 0.55));
  c.rect(door + 30, 76, 3, 6, [200, 190, 120]);
  for (const wx of [20 + Math.floor(random() * 60), 200 + Math.floor(random() * 70)]) {
    c.rect(wx, 30, 56, 34, mix(wall, [200, 225, 255], 0.55));
    c.rect(wx + 27, 30, 2, 34, mix(wall, [0, 0, 0], 0.3));
  }
  // Sensor noise.
  for (let i = 0; i < c.px.length; i++) c.px[i] = Math.max(0, Math.min(255, c.px[i] + Math.round((random() - 0.5) * 10)));

  const boxColor = confidence >= 0.85 ? [244, 63, 94] : confidence >= 0.6 ? [245, 158, 11] : [56, 189, 248];
  for (const b of boxes) {
    // A figure filling the box: head, torso, legs.
    const cx = b.x + b.w / 2;
    const body = [28 + Math.floor(random() * 40), 32 + Math.floor(random() * 30), 44 + Math.floor(random() * 40)];
    c.ellipse(cx, b.y + b.h * 0.12, b.w * 0.16, b.h * 0.09, [214, 170, 140]);
    c.rect(Math.round(cx - b.w * 0.26), Math.round(b.y + b.h * 0.22), Math.round(b.w * 0.52), Math.round(b.h * 0.42), body);
    c.rect(Math.round(cx - b.w * 0.22), Math.round(b.y + b.h * 0.64), Math.round(b.w * 0.18), Math.round(b.h * 0.34), [30, 34, 48]);
    c.rect(Math.round(cx + b.w * 0.04), Math.round(b.y + b.h * 0.64), Math.round(b.w * 0.18), Math.round(b.h * 0.34), [30, 34, 48]);
    c.stroke(b.x, b.y, b.w, b.h, boxColor, 2);
    const tag = `${label} ${Math.round(confidence * 100)}%`;
    const ty = Math.max(0, b.y - 14);
    c.rect(b.x, ty, tag.length * 8 + 6, 14, boxColor);
    c.text(b.x + 3, ty + 2, tag, [255, 255, 255]);
  }
  // Camera overlay: name top-left, time top-right, REC bottom-left.
  c.rect(0, 0, W, 16, [0, 0, 0], 0.55);
  c.text(4, 3, stream, [255, 255, 255]);
  const hh = String(time.getUTCHours()).padStart(2, '0');
  const mm = String(time.getUTCMinutes()).padStart(2, '0');
  const ss = String(time.getUTCSeconds()).padStart(2, '0');
  const clock = `${time.toISOString().slice(0, 10)} ${hh}:${mm}:${ss}`;
  c.text(W - 4 - clock.length * 8 + 2, 3, clock, [255, 255, 255]);
  c.ellipse(10, H - 10, 4, 4, [239, 68, 68]);
  c.text(18, H - 15, 'REC', [255, 255, 255]);
  return encodePng(W, H, c.px);
}
