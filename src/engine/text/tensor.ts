// The encoders hand the pipeline the shared dense float32 tensor.
export type { Tensor } from '../functions/tensor.ts';
