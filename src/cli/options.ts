// Options several commands share, spelled once.

/** --best: a run's best-validation weights (train --keep-best) instead of its last checkpoint's. */
export const BEST_OPTION = {
  type: 'boolean',
  default: false,
  describe: 'use the weights of the run\'s best validation evaluation (RUN/best.safetensors, written by train --keep-best) instead of its last checkpoint',
} as const;
