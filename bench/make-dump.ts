// Writes a synthetic dump of N small RGB images for the pseudo-label memory benchmark (bench/pseudo-label-memory.sh):
// DIR/0000/0000000.png … , 1,000 files per folder, class i % 3 as the dominant channel with seeded noise. With
// `classes` last, DIR/c0, c1, c2 instead (a labeled folder to train the benchmark's model on).
//   node dist/bench/make-dump.js DIR N [SIDE=8] [png|jpg] [classes]
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const [dir, nArg, sideArg, kindArg, layout] = process.argv.slice(2);
if (!dir || !nArg) {
  console.error('usage: node dist/bench/make-dump.js DIR N [SIDE=8] [png|jpg] [classes]');
  process.exit(2);
}
const n = Number(nArg);
const side = Number(sideArg ?? 8);
const kind = kindArg ?? 'png';
let seed = 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const PER_FOLDER = 1000;
const t0 = Date.now();
for (let i = 0; i < n; i++) {
  const c = i % 3;
  const px = Buffer.alloc(side * side * 3);
  // Noise per pixel on small images; per 8×8 block on large ones, which keeps their JPEGs photo-sized (~10 KB at 224).
  const block = side > 32 ? 8 : 1;
  const bw = Math.ceil(side / block);
  const noise = Array.from({ length: bw * bw * 3 }, () => rnd() * 60);
  for (let j = 0; j < side * side; j++) {
    const b = Math.floor(Math.floor(j / side) / block) * bw + Math.floor((j % side) / block);
    for (let k = 0; k < 3; k++) px[j * 3 + k] = Math.round((k === c ? 170 : 20) + noise[b * 3 + k]);
  }
  const folder = layout === 'classes' ? `c${c}` : String(Math.floor(i / PER_FOLDER)).padStart(4, '0');
  const file = path.join(dir, folder, `${String(i).padStart(7, '0')}.${kind}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const img = sharp(px, { raw: { width: side, height: side, channels: 3 } });
  await (kind === 'jpg' ? img.jpeg({ quality: 90 }) : img.png()).toFile(file);
}
console.error(`${n} ${side}x${side} ${kind} files in ${dir} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
