// A tiny labeled image folder for end-to-end runs: two classes of 8×8 gray PNGs (bright top half vs bright
// bottom half, with a deterministic texture), 12 images each.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export async function writeTopBottomFolder(dir: string): Promise<string> {
  for (const [c, top] of [['top', true], ['bottom', false]] as const) {
    fs.mkdirSync(path.join(dir, c), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const px = Buffer.alloc(64);
      for (let j = 0; j < 64; j++) px[j] = ((j < 32) === top ? 200 : 30) + ((i * 37 + j * 11) % 40);
      await sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(path.join(dir, c, `${i}.png`));
    }
  }
  return dir;
}
