// Images for the report as data: URIs (PNG, encoded by sharp), so the HTML file needs nothing beside it. Small
// images are enlarged by whole pixels (nearest neighbour) so that an 8×8 picture is still readable.
import sharp from 'sharp';

/** A uint8 [C, H, W] image (C = 1 or 3) as a PNG data: URI, at least `minSide` pixels wide. */
export async function pngDataUri(chw: Uint8Array, channels: number, size: number, minSide = 96): Promise<string> {
  const hwc = Buffer.alloc(size * size * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < size * size; i++) hwc[i * channels + c] = chw[c * size * size + i];
  const scale = Math.max(1, Math.ceil(minSide / size));
  const png = await sharp(hwc, { raw: { width: size, height: size, channels: channels as 1 | 3 } })
    .resize(size * scale, size * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
